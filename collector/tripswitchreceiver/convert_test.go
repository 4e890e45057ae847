package tripswitchreceiver

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestConvertData: sums and gauges of either number type keep their kind,
// values, attributes, temporality and monotonicity; other aggregations
// are left out.
func TestConvertData(t *testing.T) {
	start, now := time.Unix(100, 0), time.Unix(160, 0)
	attrs := attribute.NewSet(attribute.String("breaker", "checkout"))
	ints := []metricdata.DataPoint[int64]{{Attributes: attrs, StartTime: start, Time: now, Value: 7}}
	floats := []metricdata.DataPoint[float64]{{Attributes: attrs, Time: now, Value: 0.25}}
	for _, tt := range []struct {
		name string
		data metricdata.Aggregation
		kind pmetric.MetricType
		want func(pmetric.NumberDataPoint) bool
	}{
		{"int sum", metricdata.Sum[int64]{DataPoints: ints, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true},
			pmetric.MetricTypeSum, func(dp pmetric.NumberDataPoint) bool { return dp.IntValue() == 7 }},
		{"float sum", metricdata.Sum[float64]{DataPoints: floats, Temporality: metricdata.DeltaTemporality},
			pmetric.MetricTypeSum, func(dp pmetric.NumberDataPoint) bool { return dp.DoubleValue() == 0.25 }},
		{"int gauge", metricdata.Gauge[int64]{DataPoints: ints},
			pmetric.MetricTypeGauge, func(dp pmetric.NumberDataPoint) bool { return dp.IntValue() == 7 }},
		{"float gauge", metricdata.Gauge[float64]{DataPoints: floats},
			pmetric.MetricTypeGauge, func(dp pmetric.NumberDataPoint) bool { return dp.DoubleValue() == 0.25 }},
	} {
		pm := pmetric.NewMetric()
		if !convertData(tt.data, pm) {
			t.Fatalf("%s: not converted", tt.name)
		}
		if pm.Type() != tt.kind {
			t.Fatalf("%s: type %v, want %v", tt.name, pm.Type(), tt.kind)
		}
		var dps pmetric.NumberDataPointSlice
		if tt.kind == pmetric.MetricTypeSum {
			dps = pm.Sum().DataPoints()
		} else {
			dps = pm.Gauge().DataPoints()
		}
		if dps.Len() != 1 || !tt.want(dps.At(0)) {
			t.Fatalf("%s: points %d, first value wrong", tt.name, dps.Len())
		}
		dp := dps.At(0)
		if v, ok := dp.Attributes().Get("breaker"); !ok || v.Str() != "checkout" || !dp.Timestamp().AsTime().Equal(now) {
			t.Errorf("%s: attributes %v, time %v", tt.name, dp.Attributes().AsRaw(), dp.Timestamp().AsTime())
		}
	}
	pm := pmetric.NewMetric()
	sum := metricdata.Sum[int64]{DataPoints: ints, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
	convertData(sum, pm)
	if !pm.Sum().IsMonotonic() || pm.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative ||
		!pm.Sum().DataPoints().At(0).StartTimestamp().AsTime().Equal(start) {
		t.Errorf("monotonic cumulative sum: got monotonic %v, %v, start %v", pm.Sum().IsMonotonic(), pm.Sum().AggregationTemporality(), pm.Sum().DataPoints().At(0).StartTimestamp().AsTime())
	}
	delta := metricdata.Sum[float64]{DataPoints: floats, Temporality: metricdata.DeltaTemporality}
	convertData(delta, pm)
	if pm.Sum().IsMonotonic() || pm.Sum().AggregationTemporality() != pmetric.AggregationTemporalityDelta {
		t.Errorf("delta sum: got monotonic %v, %v", pm.Sum().IsMonotonic(), pm.Sum().AggregationTemporality())
	}
	if convertData(metricdata.Histogram[float64]{}, pmetric.NewMetric()) {
		t.Error("a histogram was converted")
	}
}
