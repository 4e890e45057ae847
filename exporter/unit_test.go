package exporter_test

import (
	"context"
	"math"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
)

// TestUnitConversion checks that values of duration instruments reach
// the samples in the rule's unit (milliseconds by default), that counts
// are never converted, and that other units are left alone.
func TestUnitConversion(t *testing.T) {
	tests := []struct {
		name       string
		instrument string // the instrument's unit
		rule       string // Rule.Unit
		factor     float64
	}{
		{"seconds to default", "s", "", 1000},
		{"milliseconds to default", "ms", "", 1},
		{"microseconds to default", "us", "", 0.001},
		{"nanoseconds to default", "ns", "", 1e-6},
		{"minutes to default", "min", "", 60_000},
		{"seconds kept", "s", exporter.UnitSeconds, 1},
		{"milliseconds to seconds", "ms", exporter.UnitSeconds, 0.001},
		{"seconds to microseconds", "s", exporter.UnitMicroseconds, 1e6},
		{"seconds to nanoseconds", "s", exporter.UnitNanoseconds, 1e9},
		{"as recorded", "s", exporter.UnitAsRecorded, 1},
		{"bytes untouched", "By", "", 1},
		{"no unit untouched", "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := []exporter.Rule{
				{Instrument: "h", Router: "dist", Metric: "h", Unit: tt.rule},
				{Instrument: "h", Router: "p50", Metric: "h", Unit: tt.rule, Reduce: exporter.ReducePercentile, Percentile: 50},
				{Instrument: "h", Router: "count", Metric: "h", Unit: tt.rule, Reduce: exporter.ReduceCount},
				{Instrument: "g", Router: "gauge", Metric: "g", Unit: tt.rule},
			}
			e, rec := newRecorded(t, rules)
			hist := metricdata.Metrics{Name: "h", Unit: tt.instrument, Data: metricdata.Histogram[float64]{
				Temporality: metricdata.DeltaTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{
					Count: 2, Sum: 0.6, Bounds: []float64{0.25, 0.5}, BucketCounts: []uint64{0, 2, 0},
					Min: metricdata.NewExtrema(0.3), Max: metricdata.NewExtrema(0.3),
				}},
			}}
			gauge := metricdata.Metrics{Name: "g", Unit: tt.instrument, Data: metricdata.Gauge[float64]{
				DataPoints: []metricdata.DataPoint[float64]{{Value: 2.5}},
			}}
			if err := e.Export(context.Background(), rmOf("s", hist, gauge)); err != nil {
				t.Fatal(err)
			}
			got := map[string][]float64{}
			for _, r := range rec.take() {
				got[r.Router] = append(got[r.Router], r.Value)
			}
			want := map[string][]float64{
				"dist":  {0.3 * tt.factor, 0.3 * tt.factor},
				"p50":   {0.3 * tt.factor},
				"count": {2},
				"gauge": {2.5 * tt.factor},
			}
			for router, w := range want {
				g := got[router]
				if len(g) != len(w) {
					t.Fatalf("%s: %v, want %v", router, g, w)
				}
				for i := range w {
					if math.Abs(g[i]-w[i]) > 1e-9*math.Abs(w[i]) {
						t.Errorf("%s: %v, want %v", router, g, w)
						break
					}
				}
			}
		})
	}
}
