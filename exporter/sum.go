package exporter

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// cumMode says what a cumulative point contributes.
type cumMode uint8

const (
	cumSkip  cumMode = iota // a baseline only: its increase is unknown
	cumFull                 // everything in it is new
	cumDelta                // difference it against the previous point
)

// cumMode classifies a cumulative point of st that started at start. The
// first point of a stream counts in full when it started no earlier than
// the exporter (nothing of it can have been forwarded), and is only a
// baseline otherwise; a new start time is a reset, counted in full.
func (st *stream) cumMode(start, created time.Time) cumMode {
	switch {
	case st.temp:
		return cumSkip
	case !st.seen:
		if !start.IsZero() && !start.Before(created) {
			return cumFull
		}
		return cumSkip
	case !start.Equal(st.start):
		return cumFull
	}
	return cumDelta
}

func exportSum[N int64 | float64](e *Exporter, ctx context.Context, in *instrument, s metricdata.Sum[N]) error {
	cumulative := s.Temporality == metricdata.CumulativeTemporality
	for i := range s.DataPoints {
		p := &s.DataPoints[i]
		st := e.stream(in, p.Attributes)
		if len(st.targets) == 0 {
			continue
		}
		v := float64(p.Value)
		var inc, total float64
		hasInc := true
		if cumulative {
			total = v
			switch st.cumMode(p.StartTime, e.created) {
			case cumSkip:
				hasInc = false
			case cumFull:
				inc = v
			case cumDelta:
				inc = v - st.prev
				if s.IsMonotonic && v < st.prev { // a reset without a new start time
					inc = v
				}
			}
			if !st.temp {
				st.seen, st.start, st.prev = true, p.StartTime, v
			}
		} else {
			inc = v
			st.total += v
			total = st.total
		}
		ts := e.pointTime(p.Time)
		traceID := st.trace.get(latestTraceID(p.Exemplars))
		for j := range st.targets {
			tg := &st.targets[j]
			val := inc
			if tg.r.Total {
				val = total
			} else if !hasInc {
				continue
			}
			if err := e.report(ctx, in, tg, ts, tg.measure(val), traceID); err != nil {
				return err
			}
		}
	}
	return nil
}

func exportGauge[N int64 | float64](e *Exporter, ctx context.Context, in *instrument, g metricdata.Gauge[N]) error {
	for i := range g.DataPoints {
		p := &g.DataPoints[i]
		st := e.stream(in, p.Attributes)
		if len(st.targets) == 0 {
			continue
		}
		ts := e.pointTime(p.Time)
		traceID := st.trace.get(latestTraceID(p.Exemplars))
		for j := range st.targets {
			tg := &st.targets[j]
			if err := e.report(ctx, in, tg, ts, tg.measure(float64(p.Value)), traceID); err != nil {
				return err
			}
		}
	}
	return nil
}

// latestTraceID returns the trace ID of the most recent exemplar that has
// one, nil when none has.
func latestTraceID[N int64 | float64](ex []metricdata.Exemplar[N]) []byte {
	var id []byte
	var at time.Time
	for i := range ex {
		if validTraceID(ex[i].TraceID) && (id == nil || !ex[i].Time.Before(at)) {
			id, at = ex[i].TraceID, ex[i].Time
		}
	}
	return id
}
