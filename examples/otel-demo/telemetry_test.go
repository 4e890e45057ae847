package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// captureExporter keeps the histograms of otelhttp's scope from the last
// export (the reader reuses what it passes to Export, so they are copied).
type captureExporter struct {
	mu    sync.Mutex
	hists map[string][]metricdata.HistogramDataPoint[float64]
}

func (e *captureExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *captureExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *captureExporter) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hists = map[string][]metricdata.HistogramDataPoint[float64]{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelhttp.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				for _, dp := range h.DataPoints {
					dp.Bounds, dp.BucketCounts = slices.Clone(dp.Bounds), slices.Clone(dp.BucketCounts)
					e.hists[m.Name] = append(e.hists[m.Name], dp)
				}
			}
		}
	}
	return nil
}

func (e *captureExporter) ForceFlush(context.Context) error { return nil }
func (e *captureExporter) Shutdown(context.Context) error   { return nil }

// histogramQuantile estimates quantile q from cumulative-free bucket counts
// as Prometheus's histogram_quantile does: linear interpolation inside the
// bucket that holds the rank, the first bucket starting at 0.
func histogramQuantile(q float64, bounds []float64, counts []uint64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range counts {
		if cum+float64(c) >= rank && c > 0 {
			if i == len(bounds) { // the +Inf bucket
				return bounds[len(bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-cum)/float64(c)
		}
		cum += float64(c)
	}
	return math.NaN()
}

// TestLatencyP95FitsTheDemo records what the outage produces (most calls
// end at checkout's 1 s timeout) into the demo's MeterProvider, under the
// name and scope otelhttp uses and with otelhttp's own bucket advice, and
// estimates the p95 as the dashboard does. With otelhttp's default buckets
// (1 s, then 2.5 s) the estimate was about 2.2 s for latencies of at most
// 1.01 s.
func TestLatencyP95FitsTheDemo(t *testing.T) {
	ctx := context.Background()
	capture := &captureExporter{}
	cfg := defaultConfig()
	cfg.MetricsAddr = ""
	tel, err := newTelemetry(ctx, cfg, capture)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.shutdown(ctx) }()

	otelhttpDefaults := metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
	meter := tel.meters.Meter(otelhttp.ScopeName)
	for _, name := range []string{"http.server.request.duration", "http.client.request.duration"} {
		h, err := meter.Float64Histogram(name, metric.WithUnit("s"), otelhttpDefaults)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			switch {
			case i < 10:
				h.Record(ctx, 0.015) // fast failures
			default:
				h.Record(ctx, 1.0+float64(i%10)/1000) // the 1 s timeout, and a little overhead
			}
		}
	}
	if err := tel.meters.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	capture.mu.Lock()
	defer capture.mu.Unlock()
	if len(capture.hists) != 2 {
		t.Fatalf("exported otelhttp histograms %v, want the two request durations", capture.hists)
	}
	for name, dps := range capture.hists {
		if len(dps) != 1 {
			t.Fatalf("%s: %d points, want 1", name, len(dps))
		}
		p95 := histogramQuantile(0.95, dps[0].Bounds, dps[0].BucketCounts)
		t.Logf("%s: p95 estimate %.3f s", name, p95)
		if p95 > 1.1 || p95 < 1.0 {
			t.Errorf("%s: p95 estimate %.3f s for latencies of 1.000–1.009 s; want within 0.1 s", name, p95)
		}
	}
}
