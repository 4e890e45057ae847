package tripswitchexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// pushMetrics turns the data points the rules select into samples and
// sends them. A point's resource attributes count as its attributes
// (its own win), so that streams of different services stay apart and
// rules may select and tag by service.name.
func (e *tsExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	if e.metrics == nil {
		return nil
	}
	if s, ok := e.retries.take(md); ok {
		return e.send(ctx, md, s)
	}
	e.metricMu.Lock()
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := resourceMetrics(rms.At(i))
		if err := e.metrics.Export(ctx, &rm); err != nil {
			e.metricBatch.take()
			e.metricMu.Unlock()
			return err
		}
	}
	samples := e.metricBatch.take()
	e.metricMu.Unlock()
	return e.send(ctx, md, samples)
}

// resourceMetrics converts one resource's metrics to the SDK's form.
func resourceMetrics(rm pmetric.ResourceMetrics) metricdata.ResourceMetrics {
	res := appendAttributes(nil, rm.Resource().Attributes())
	sms := rm.ScopeMetrics()
	out := metricdata.ResourceMetrics{ScopeMetrics: make([]metricdata.ScopeMetrics, 0, sms.Len())}
	for i := range sms.Len() {
		sm := sms.At(i)
		ms := sm.Metrics()
		o := metricdata.ScopeMetrics{
			Scope:   instrumentation.Scope{Name: sm.Scope().Name(), Version: sm.Scope().Version()},
			Metrics: make([]metricdata.Metrics, 0, ms.Len()),
		}
		for j := range ms.Len() {
			if m, ok := metricOf(ms.At(j), res); ok {
				o.Metrics = append(o.Metrics, m)
			}
		}
		out.ScopeMetrics = append(out.ScopeMetrics, o)
	}
	return out
}

func metricOf(m pmetric.Metric, res []attribute.KeyValue) (metricdata.Metrics, bool) {
	out := metricdata.Metrics{Name: m.Name(), Description: m.Description(), Unit: m.Unit()}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		out.Data = metricdata.Gauge[float64]{DataPoints: numberPoints(m.Gauge().DataPoints(), res)}
	case pmetric.MetricTypeSum:
		s := m.Sum()
		out.Data = metricdata.Sum[float64]{
			DataPoints:  numberPoints(s.DataPoints(), res),
			Temporality: temporality(s.AggregationTemporality()),
			IsMonotonic: s.IsMonotonic(),
		}
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		out.Data = metricdata.Histogram[float64]{
			DataPoints:  histogramPoints(h.DataPoints(), res),
			Temporality: temporality(h.AggregationTemporality()),
		}
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		out.Data = metricdata.ExponentialHistogram[float64]{
			DataPoints:  exponentialPoints(h.DataPoints(), res),
			Temporality: temporality(h.AggregationTemporality()),
		}
	case pmetric.MetricTypeSummary:
		out.Data = metricdata.Summary{DataPoints: summaryPoints(m.Summary().DataPoints(), res)}
	default:
		return out, false
	}
	return out, true
}

func temporality(t pmetric.AggregationTemporality) metricdata.Temporality {
	if t == pmetric.AggregationTemporalityDelta {
		return metricdata.DeltaTemporality
	}
	return metricdata.CumulativeTemporality
}

// attrSet merges resource attributes and a point's attributes; the
// point's win.
func attrSet(res []attribute.KeyValue, m pcommon.Map) attribute.Set {
	kvs := make([]attribute.KeyValue, 0, len(res)+m.Len())
	kvs = append(kvs, res...)
	kvs = appendAttributes(kvs, m)
	// NewSet keeps the last value of a duplicated key: the point's.
	return attribute.NewSet(kvs...)
}

func timeOf(t pcommon.Timestamp) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return t.AsTime()
}

func numberPoints(ps pmetric.NumberDataPointSlice, res []attribute.KeyValue) []metricdata.DataPoint[float64] {
	out := make([]metricdata.DataPoint[float64], ps.Len())
	for i := range ps.Len() {
		p := ps.At(i)
		v := p.DoubleValue()
		if p.ValueType() == pmetric.NumberDataPointValueTypeInt {
			v = float64(p.IntValue())
		}
		out[i] = metricdata.DataPoint[float64]{
			Attributes: attrSet(res, p.Attributes()),
			StartTime:  timeOf(p.StartTimestamp()),
			Time:       timeOf(p.Timestamp()),
			Value:      v,
			Exemplars:  exemplars(p.Exemplars()),
		}
	}
	return out
}

func histogramPoints(ps pmetric.HistogramDataPointSlice, res []attribute.KeyValue) []metricdata.HistogramDataPoint[float64] {
	out := make([]metricdata.HistogramDataPoint[float64], ps.Len())
	for i := range ps.Len() {
		p := ps.At(i)
		o := metricdata.HistogramDataPoint[float64]{
			Attributes:   attrSet(res, p.Attributes()),
			StartTime:    timeOf(p.StartTimestamp()),
			Time:         timeOf(p.Timestamp()),
			Count:        p.Count(),
			Bounds:       p.ExplicitBounds().AsRaw(),
			BucketCounts: p.BucketCounts().AsRaw(),
			Sum:          p.Sum(),
			Exemplars:    exemplars(p.Exemplars()),
		}
		if p.HasMin() {
			o.Min = metricdata.NewExtrema(p.Min())
		}
		if p.HasMax() {
			o.Max = metricdata.NewExtrema(p.Max())
		}
		out[i] = o
	}
	return out
}

func exponentialPoints(ps pmetric.ExponentialHistogramDataPointSlice, res []attribute.KeyValue) []metricdata.ExponentialHistogramDataPoint[float64] {
	out := make([]metricdata.ExponentialHistogramDataPoint[float64], ps.Len())
	for i := range ps.Len() {
		p := ps.At(i)
		o := metricdata.ExponentialHistogramDataPoint[float64]{
			Attributes:    attrSet(res, p.Attributes()),
			StartTime:     timeOf(p.StartTimestamp()),
			Time:          timeOf(p.Timestamp()),
			Count:         p.Count(),
			Sum:           p.Sum(),
			Scale:         p.Scale(),
			ZeroCount:     p.ZeroCount(),
			ZeroThreshold: p.ZeroThreshold(),
			PositiveBucket: metricdata.ExponentialBucket{
				Offset: p.Positive().Offset(), Counts: p.Positive().BucketCounts().AsRaw(),
			},
			NegativeBucket: metricdata.ExponentialBucket{
				Offset: p.Negative().Offset(), Counts: p.Negative().BucketCounts().AsRaw(),
			},
			Exemplars: exemplars(p.Exemplars()),
		}
		if p.HasMin() {
			o.Min = metricdata.NewExtrema(p.Min())
		}
		if p.HasMax() {
			o.Max = metricdata.NewExtrema(p.Max())
		}
		out[i] = o
	}
	return out
}

func summaryPoints(ps pmetric.SummaryDataPointSlice, res []attribute.KeyValue) []metricdata.SummaryDataPoint {
	out := make([]metricdata.SummaryDataPoint, ps.Len())
	for i := range ps.Len() {
		p := ps.At(i)
		qs := p.QuantileValues()
		o := metricdata.SummaryDataPoint{
			Attributes:     attrSet(res, p.Attributes()),
			StartTime:      timeOf(p.StartTimestamp()),
			Time:           timeOf(p.Timestamp()),
			Count:          p.Count(),
			Sum:            p.Sum(),
			QuantileValues: make([]metricdata.QuantileValue, qs.Len()),
		}
		for j := range qs.Len() {
			o.QuantileValues[j] = metricdata.QuantileValue{Quantile: qs.At(j).Quantile(), Value: qs.At(j).Value()}
		}
		out[i] = o
	}
	return out
}

// exemplars converts the exemplars that carry a trace ID.
func exemplars(es pmetric.ExemplarSlice) []metricdata.Exemplar[float64] {
	var out []metricdata.Exemplar[float64]
	for i := range es.Len() {
		e := es.At(i)
		tid := e.TraceID()
		if tid.IsEmpty() {
			continue
		}
		v := e.DoubleValue()
		if e.ValueType() == pmetric.ExemplarValueTypeInt {
			v = float64(e.IntValue())
		}
		sid := e.SpanID()
		out = append(out, metricdata.Exemplar[float64]{
			Time: timeOf(e.Timestamp()), Value: v, TraceID: tid[:], SpanID: sid[:],
		})
	}
	return out
}
