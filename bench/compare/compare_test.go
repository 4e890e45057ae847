// Package compare measures the Tripswitch client's call paths beside
// sony/gobreaker's Execute in one run, so that the ratios in BENCHMARKS.md
// come from the same machine under the same load. It is a separate module
// so that gobreaker stays out of the SDK's go.mod. Run it with
//
//	cd bench/compare && go test -run x -bench . -benchmem -count=5
package compare

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/tripswitch-otel/tripswitch-go/internal/benchcalls"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func task() (int, error) { return 1, nil }

// client returns a client synced with a local server that holds a closed
// "checkout" breaker; samples stay buffered during the benchmark.
func client(b *testing.B, opts ...tripswitch.Option) *tripswitch.Client {
	b.Helper()
	srv := localservertest.Start(b)
	localservertest.Seed(b, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_checkout", Name: "checkout"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "checkout", Metric: "latency", Kind: "max", Op: "gt", Threshold: 1e9,
			RouterIDs: []string{"rtr_checkout"},
		}},
	})
	creds := srv.Credentials()
	c, err := tripswitch.NewClient(context.Background(), creds.ProjectID, append([]tripswitch.Option{
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
		tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithBatchSize(1 << 30),
		tripswitch.WithBufferCapacity(1 << 16),
		tripswitch.WithMetadataSyncInterval(0),
		tripswitch.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	if st, ok := c.State("checkout"); !ok || st.State != tripswitch.StateClosed {
		b.Fatalf("checkout breaker: %+v, %v; want closed", st, ok)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func BenchmarkGobreakerExecute(b *testing.B) {
	cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "checkout"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cb.Execute(task); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGobreakerExecuteParallel(b *testing.B) {
	cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "checkout"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cb.Execute(task); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGatedExecute is a gate without samples: one breaker, no router.
func BenchmarkGatedExecute(b *testing.B) { benchcalls.Gated(b, client(b)) }

// BenchmarkExecuteMetric is the call every README snippet shows.
func BenchmarkExecuteMetric(b *testing.B) { benchcalls.ExecuteMetric(b, client(b)) }

// BenchmarkExecuteMetricLocalPolicy is the same call on a client with a
// local fallback policy, while its state is fresh.
func BenchmarkExecuteMetricLocalPolicy(b *testing.B) {
	benchcalls.ExecuteMetric(b, client(b, tripswitch.WithLocalFallback(tripswitch.LocalPolicy{})))
}

func BenchmarkExecuteMetricParallel(b *testing.B) { benchcalls.ExecuteMetricParallel(b, client(b)) }

// BenchmarkExecuteMetrics is the same call with the metric in a map.
func BenchmarkExecuteMetrics(b *testing.B) { benchcalls.ExecuteMetrics(b, client(b)) }

func BenchmarkExecuteMetricsParallel(b *testing.B) { benchcalls.ExecuteMetricsParallel(b, client(b)) }

// BenchmarkPreparedSample is a prepared call with a latency sample.
func BenchmarkPreparedSample(b *testing.B) { benchcalls.Prepared(b, benchcalls.Prepare(b, client(b))) }

func BenchmarkPreparedSampleParallel(b *testing.B) {
	benchcalls.PreparedParallel(b, benchcalls.Prepare(b, client(b)))
}

func BenchmarkPreparedSampleLocalPolicy(b *testing.B) {
	benchcalls.Prepared(b, benchcalls.Prepare(b, client(b, tripswitch.WithLocalFallback(tripswitch.LocalPolicy{}))))
}
