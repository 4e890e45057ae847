package exporter

import (
	"context"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// scratch is memory reused across exports; it is guarded by Exporter.sem.
type scratch struct {
	h        hist
	x        expansion
	streams  []*stream
	maxCount []uint64 // per rule index: the largest point count of this instrument and export
	tmpPos   []uint64
	tmpNeg   []uint64
	diffPos  []uint64
	diffNeg  []uint64
	scaled   []float64 // one bucket's samples in a rule's unit
}

// release drops every reference into exported data.
func (s *scratch) release() {
	clear(s.streams)
	s.streams = s.streams[:0]
	s.h.reset()
}

// begin starts the first pass over the points of one instrument.
func (s *scratch) begin(rules int) {
	clear(s.streams)
	s.streams = s.streams[:0]
	s.maxCount = resize(s.maxCount, rules)
	clear(s.maxCount)
}

// observe records that st has a point of n measurements.
func (s *scratch) observe(st *stream, n uint64) {
	s.streams = append(s.streams, st)
	for i := range st.targets {
		r := st.targets[i].r
		if r.Reduce == ReduceDistribution && n > s.maxCount[r.index] {
			s.maxCount[r.index] = n
		}
	}
}

// samples returns how many samples a point of n measurements expands to
// for rule r: n, or n scaled by the factor that brings the rule's
// largest point of this instrument and export down to limit.
func (s *scratch) samples(r *rule, n uint64, limit int) uint64 {
	most := s.maxCount[r.index]
	if most <= uint64(limit) {
		return n
	}
	m := uint64(math.Round(float64(n) * float64(limit) / float64(most)))
	return min(m, uint64(limit), n)
}

// emitHist reports the samples of h (a point of st taken at ts) to every
// target of st.
func (e *Exporter) emitHist(ctx context.Context, in *instrument, st *stream, h *hist, ts time.Time) error {
	s := &e.s
	expanded, traced := uint64(math.MaxUint64), false
	for j := range st.targets {
		tg := &st.targets[j]
		if tg.r.Reduce != ReduceDistribution {
			v, ok := reduceHist(h, tg.r)
			if !ok {
				continue
			}
			traceID := nearestTrace(h, v)
			if tg.r.Reduce != ReduceCount {
				v = tg.measure(v)
			}
			if err := e.report(ctx, in, tg, ts, v, traceID); err != nil {
				return err
			}
			continue
		}
		m := s.samples(tg.r, h.count, e.cfg.maxSamples)
		if m == 0 {
			continue
		}
		if m != expanded {
			s.x.expand(h, m)
			expanded = m
		}
		if !traced {
			s.x.assignTraces(h)
			traced = true
		}
		bulk, _ := tg.sink.(bulkSink)
		for b := range h.buckets {
			traceID := s.x.traces[b]
			values := s.x.values[s.x.starts[b]:s.x.starts[b+1]]
			if tg.scale != 1 {
				s.scaled = s.scaled[:0]
				for _, v := range values {
					s.scaled = append(s.scaled, tg.measure(v))
				}
				values = s.scaled
			}
			if bulk != nil && allFinite(values) {
				if err := bulk.ReportValues(ctx, ts, values, tg.ok, traceID); err != nil {
					return err
				}
				continue
			}
			for _, v := range values {
				if err := e.report(ctx, in, tg, ts, v, traceID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// cumCount returns the measurements a cumulative point of count adds.
func (st *stream) cumCount(start, created time.Time, count, prev uint64) uint64 {
	switch st.cumMode(start, created) {
	case cumSkip:
		return 0
	case cumDelta:
		if count >= prev {
			return count - prev
		}
	}
	return count
}

func exportHistogram[N int64 | float64](e *Exporter, ctx context.Context, in *instrument, d metricdata.Histogram[N]) error {
	s := &e.s
	cumulative := d.Temporality == metricdata.CumulativeTemporality
	s.begin(len(e.rules))
	for i := range d.DataPoints {
		p := &d.DataPoints[i]
		st := e.stream(in, p.Attributes)
		n := p.Count
		if cumulative {
			n = st.cumCount(p.StartTime, e.created, p.Count, st.hist.count)
		}
		s.observe(st, n)
	}
	for i := range d.DataPoints {
		p := &d.DataPoints[i]
		st := s.streams[i]
		if len(st.targets) == 0 {
			continue
		}
		h := &s.h
		h.reset()
		mode := cumFull
		if cumulative {
			mode = st.cumMode(p.StartTime, e.created)
			prev := &st.hist
			if mode == cumDelta && (!slices.Equal(p.Bounds, prev.bounds) || !covers(p.BucketCounts, prev.counts)) {
				mode = cumFull
			}
			if mode == cumDelta {
				h.addExplicit(p.Bounds, p.BucketCounts, prev.counts)
				h.sum, h.hasSum = float64(p.Sum)-prev.sum, true
			}
			if !st.temp {
				st.seen, st.start = true, p.StartTime
				prev.count, prev.sum = p.Count, float64(p.Sum)
				prev.bounds = append(prev.bounds[:0], p.Bounds...)
				prev.counts = append(prev.counts[:0], p.BucketCounts...)
			}
		}
		switch mode {
		case cumSkip:
			continue
		case cumFull:
			h.addExplicit(p.Bounds, p.BucketCounts, nil)
			h.sum, h.hasSum = float64(p.Sum), true
			setExtrema(h, p.Min, p.Max)
		}
		addExemplars(h, p.Exemplars)
		h.finish()
		if err := e.emitHist(ctx, in, st, h, e.pointTime(p.Time)); err != nil {
			return err
		}
	}
	return nil
}

// covers reports whether every count is at least its previous value.
func covers(counts, prev []uint64) bool {
	if len(counts) != len(prev) {
		return false
	}
	for i := range counts {
		if counts[i] < prev[i] {
			return false
		}
	}
	return true
}

func exportExponential[N int64 | float64](e *Exporter, ctx context.Context, in *instrument, d metricdata.ExponentialHistogram[N]) error {
	s := &e.s
	cumulative := d.Temporality == metricdata.CumulativeTemporality
	s.begin(len(e.rules))
	for i := range d.DataPoints {
		p := &d.DataPoints[i]
		st := e.stream(in, p.Attributes)
		n := p.Count
		if cumulative {
			n = st.cumCount(p.StartTime, e.created, p.Count, st.hist.count)
		}
		s.observe(st, n)
	}
	for i := range d.DataPoints {
		p := &d.DataPoints[i]
		st := s.streams[i]
		if len(st.targets) == 0 {
			continue
		}
		h := &s.h
		h.reset()
		mode := cumFull
		if cumulative {
			mode = st.cumMode(p.StartTime, e.created)
			prev := &st.hist
			if mode == cumDelta && !s.expDiff(p.Scale, p.ZeroCount, &p.PositiveBucket, &p.NegativeBucket, prev) {
				mode = cumFull
			}
			if mode == cumDelta {
				h.addExponential(p.Scale, p.ZeroCount-prev.zero, p.PositiveBucket.Offset, s.diffPos, p.NegativeBucket.Offset, s.diffNeg)
				h.sum, h.hasSum = float64(p.Sum)-prev.sum, true
			}
			if !st.temp {
				st.seen, st.start = true, p.StartTime
				prev.count, prev.sum = p.Count, float64(p.Sum)
				prev.scale, prev.zero = p.Scale, p.ZeroCount
				prev.posOff, prev.pos = p.PositiveBucket.Offset, append(prev.pos[:0], p.PositiveBucket.Counts...)
				prev.negOff, prev.neg = p.NegativeBucket.Offset, append(prev.neg[:0], p.NegativeBucket.Counts...)
			}
		}
		switch mode {
		case cumSkip:
			continue
		case cumFull:
			h.addExponential(p.Scale, p.ZeroCount, p.PositiveBucket.Offset, p.PositiveBucket.Counts, p.NegativeBucket.Offset, p.NegativeBucket.Counts)
			h.sum, h.hasSum = float64(p.Sum), true
			setExtrema(h, p.Min, p.Max)
		}
		addExemplars(h, p.Exemplars)
		h.finish()
		if err := e.emitHist(ctx, in, st, h, e.pointTime(p.Time)); err != nil {
			return err
		}
	}
	return nil
}

// expDiff computes into s.diffPos and s.diffNeg the buckets of an
// exponential point less the previous cumulative point prev, at the
// point's scale. It returns false when prev does not fit under the point
// (a reset).
func (s *scratch) expDiff(scale int32, zero uint64, pos, neg *metricdata.ExponentialBucket, prev *histState) bool {
	if scale > prev.scale || zero < prev.zero {
		return false
	}
	shift := prev.scale - scale
	var off int32
	var ok bool
	off, s.tmpPos = downscale(prev.posOff, prev.pos, shift, s.tmpPos)
	if s.diffPos, ok = subtract(pos.Offset, pos.Counts, off, s.tmpPos, s.diffPos); !ok {
		return false
	}
	off, s.tmpNeg = downscale(prev.negOff, prev.neg, shift, s.tmpNeg)
	s.diffNeg, ok = subtract(neg.Offset, neg.Counts, off, s.tmpNeg, s.diffNeg)
	return ok
}
