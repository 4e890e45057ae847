package exporter

import (
	"context"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// exportSummary forwards summary points. Their count and sum are
// cumulative and are differenced like cumulative sums; their quantiles
// describe the recent distribution and are used as they are.
func exportSummary(e *Exporter, ctx context.Context, in *instrument, d metricdata.Summary) error {
	s := &e.s
	s.begin(len(e.rules))
	for i := range d.DataPoints {
		p := &d.DataPoints[i]
		st := e.stream(in, p.Attributes)
		s.observe(st, st.cumCount(p.StartTime, e.created, p.Count, st.prevCount))
	}
	for i := range d.DataPoints {
		p := &d.DataPoints[i]
		st := s.streams[i]
		if len(st.targets) == 0 {
			continue
		}
		mode := st.cumMode(p.StartTime, e.created)
		count, sum := p.Count, p.Sum
		if mode == cumDelta && p.Count >= st.prevCount {
			count, sum = p.Count-st.prevCount, p.Sum-st.prev
		}
		if !st.temp {
			st.seen, st.start, st.prevCount, st.prev = true, p.StartTime, p.Count, p.Sum
		}
		if mode == cumSkip {
			continue
		}
		ts := e.pointTime(p.Time)
		qs := p.QuantileValues
		for j := range st.targets {
			tg := &st.targets[j]
			if tg.r.Reduce == ReduceDistribution {
				m := s.samples(tg.r, count, e.cfg.maxSamples)
				for k := range m {
					v := sum / float64(count)
					if len(qs) > 0 {
						v = quantileAt(qs, (float64(k)+0.5)/float64(m))
					}
					if err := e.report(ctx, in, tg, ts, tg.measure(v), ""); err != nil {
						return err
					}
				}
				continue
			}
			v, ok := reduceSummary(tg.r, count, sum, qs)
			if !ok {
				continue
			}
			if tg.r.Reduce != ReduceCount {
				v = tg.measure(v)
			}
			if err := e.report(ctx, in, tg, ts, v, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func reduceSummary(r *rule, count uint64, sum float64, qs []metricdata.QuantileValue) (float64, bool) {
	switch r.Reduce {
	case ReduceCount:
		return float64(count), true
	case ReduceSum:
		return sum, true
	}
	if count == 0 {
		return 0, false
	}
	switch r.Reduce {
	case ReduceMean:
		return sum / float64(count), true
	case ReduceMin:
		if len(qs) > 0 && qs[0].Quantile == 0 {
			return qs[0].Value, true
		}
	case ReduceMax:
		if len(qs) > 0 && qs[len(qs)-1].Quantile == 1 {
			return qs[len(qs)-1].Value, true
		}
	case ReducePercentile:
		if len(qs) > 0 {
			return quantileAt(qs, r.Percentile/100), true
		}
	}
	return 0, false
}

// quantileAt interpolates linearly between the quantiles of qs (ascending)
// and holds the end values beyond them.
func quantileAt(qs []metricdata.QuantileValue, q float64) float64 {
	if q <= qs[0].Quantile {
		return qs[0].Value
	}
	for i := 1; i < len(qs); i++ {
		if q <= qs[i].Quantile {
			a, b := qs[i-1], qs[i]
			if b.Quantile == a.Quantile {
				return b.Value
			}
			return a.Value + (q-a.Quantile)/(b.Quantile-a.Quantile)*(b.Value-a.Value)
		}
	}
	return qs[len(qs)-1].Value
}
