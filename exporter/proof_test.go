package exporter_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// otelhttpBounds are the bucket boundaries otelhttp gives
// http.client.request.duration and http.server.request.duration, in
// seconds.
var otelhttpBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// proof holds the server, client and meter of one end-to-end run.
type proof struct {
	srv       *localserver.Server
	projectID string
	client    *tripswitch.Client
	reader    *sdkmetric.PeriodicReader
	hist      metric.Float64Histogram
}

const proofMetric = "http.client.request.duration"

func startProof(t *testing.T, opts ...exporter.Option) *proof {
	t.Helper()
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	breaker := func(name, kind string) localserver.SeedBreaker {
		threshold := 1e12 // never trips
		if kind == "error_rate" {
			threshold = 1
		}
		return localserver.SeedBreaker{
			Name: name, Metric: proofMetric, Kind: kind, Op: "gt", Threshold: threshold,
			WindowMs: time.Hour.Milliseconds(), RouterIDs: []string{"rtr_api"},
		}
	}
	err := srv.Seed(creds.ProjectID, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_api", Name: "api"}},
		Breakers: []localserver.SeedBreaker{
			breaker("latency-p95", "p95"), breaker("latency-avg", "avg"),
			breaker("requests", "count"), breaker("errors", "error_rate"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
		tripswitch.WithBufferCapacity(50_000),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Close(ctx); err != nil {
			t.Errorf("client close: %v", err)
		}
	})
	exp, err := exporter.New(client, []exporter.Rule{{
		Instrument: proofMetric, Router: "rtr_api", Metric: proofMetric, OK: exporter.OKBelowHTTPStatus(500),
	}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Errorf("meter provider shutdown: %v", err)
		}
	})
	hist, err := mp.Meter("proof").Float64Histogram(proofMetric, metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(otelhttpBounds...))
	if err != nil {
		t.Fatal(err)
	}
	return &proof{srv: srv, projectID: creds.ProjectID, client: client, reader: reader, hist: hist}
}

// aggregate waits until the breaker's window holds want samples and
// returns its aggregate.
func (p *proof) aggregate(t *testing.T, breaker string, want int) float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, n, err := p.srv.Aggregate(p.projectID, breaker)
		if err != nil {
			t.Fatal(err)
		}
		if n == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d samples in the window, want %d", breaker, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nearestRank is the p-th percentile of sorted by the nearest-rank method.
func nearestRank(sorted []float64, p float64) float64 {
	k := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

// bucketWidthMs is the width in milliseconds of the otelhttp bucket that
// holds ms milliseconds.
func bucketWidthMs(ms float64) float64 {
	i, _ := slices.BinarySearch(otelhttpBounds, ms/1000)
	lo := 0.0
	if i > 0 {
		lo = otelhttpBounds[i-1]
	}
	return 1000 * (otelhttpBounds[i] - lo)
}

// TestProofBreakerAggregates records 10,000 latencies (log-normal, median
// 60 ms) with one request in five failing with a 503, exports them
// through a histogram with otelhttp's bucket boundaries, and compares the
// local server's breaker aggregates with the truth.
func TestProofBreakerAggregates(t *testing.T) {
	for _, tt := range []struct {
		name        string
		opts        []exporter.Option
		wantSamples int
	}{
		{"below the cap", []exporter.Option{exporter.WithMaxSamplesPerPoint(10_000)}, 10_000},
		{"default cap", nil, 1000 + 250}, // 8,000 ok and 2,000 failed measurements, scaled by 1/8
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := startProof(t, tt.opts...)
			rng := rand.New(rand.NewPCG(1, 2))
			ctx := context.Background()
			ok := metric.WithAttributeSet(attribute.NewSet(
				attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200)))
			failed := metric.WithAttributeSet(attribute.NewSet(
				attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 503)))
			truth := make([]float64, 0, 10_000)
			for i := range 10_000 {
				v := 0.060 * math.Exp(0.8*rng.NormFloat64()) // seconds, as otelhttp records
				truth = append(truth, 1000*v)                // milliseconds, as the samples carry
				if i%5 == 0 {
					p.hist.Record(ctx, v, failed)
				} else {
					p.hist.Record(ctx, v, ok)
				}
			}
			flushCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := p.reader.ForceFlush(flushCtx); err != nil { // collect, export, deliver
				t.Fatal(err)
			}
			slices.Sort(truth)
			trueP95, trueAvg := nearestRank(truth, 95), mean(truth)

			count := p.aggregate(t, "requests", tt.wantSamples)
			p95 := p.aggregate(t, "latency-p95", tt.wantSamples)
			avg := p.aggregate(t, "latency-avg", tt.wantSamples)
			errRate := p.aggregate(t, "errors", tt.wantSamples)
			t.Logf("samples %v; p95 %.1f ms (true %.1f, error %.1f ms, bucket width %.0f ms); avg %.3f ms (true %.3f, relative error %.1e); error rate %.4f (true 0.2000, error %.2f pp)",
				count, p95, trueP95, math.Abs(p95-trueP95), bucketWidthMs(trueP95),
				avg, trueAvg, math.Abs(avg-trueAvg)/trueAvg, errRate, 100*math.Abs(errRate-0.2))

			if int(count) != tt.wantSamples {
				t.Errorf("count %v, want %d", count, tt.wantSamples)
			}
			if d, w := math.Abs(p95-trueP95), bucketWidthMs(trueP95); d > w {
				t.Errorf("p95 %v, true %v: off by %v, more than the bucket width %v", p95, trueP95, d, w)
			}
			if math.Abs(avg-trueAvg) > 0.05*trueAvg {
				t.Errorf("avg %v, true %v: off by more than 5%%", avg, trueAvg)
			}
			if math.Abs(errRate-0.2) > 0.01 {
				t.Errorf("error rate %v, true 0.2: off by more than 1 percentage point", errRate)
			}
		})
	}
}
