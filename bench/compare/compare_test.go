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
func BenchmarkGatedExecute(b *testing.B) {
	c := client(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tripswitch.Execute(c, ctx, task, tripswitch.WithBreakers("checkout")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecuteMetric is the call every README snippet shows.
func BenchmarkExecuteMetric(b *testing.B) {
	benchExecuteMetric(b, client(b))
}

// BenchmarkExecuteMetricLocalPolicy is the same call on a client with a
// local fallback policy, while its state is fresh.
func BenchmarkExecuteMetricLocalPolicy(b *testing.B) {
	benchExecuteMetric(b, client(b, tripswitch.WithLocalFallback(tripswitch.LocalPolicy{})))
}

func benchExecuteMetric(b *testing.B, c *tripswitch.Client) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tripswitch.Execute(c, ctx, task,
			tripswitch.WithBreakers("checkout"),
			tripswitch.WithRouter("rtr_checkout"),
			tripswitch.WithMetric("latency", tripswitch.Latency),
		); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecuteMetricParallel(b *testing.B) {
	c := client(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tripswitch.Execute(c, ctx, task,
				tripswitch.WithBreakers("checkout"),
				tripswitch.WithRouter("rtr_checkout"),
				tripswitch.WithMetric("latency", tripswitch.Latency),
			); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkExecuteMetrics is the same call with the metric in a map.
func BenchmarkExecuteMetrics(b *testing.B) {
	c := client(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tripswitch.Execute(c, ctx, task,
			tripswitch.WithBreakers("checkout"),
			tripswitch.WithRouter("rtr_checkout"),
			tripswitch.WithMetrics(map[string]any{"latency": tripswitch.Latency}),
		); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecuteMetricsParallel(b *testing.B) {
	c := client(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tripswitch.Execute(c, ctx, task,
				tripswitch.WithBreakers("checkout"),
				tripswitch.WithRouter("rtr_checkout"),
				tripswitch.WithMetrics(map[string]any{"latency": tripswitch.Latency}),
			); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func prepared(b *testing.B, opts ...tripswitch.Option) *tripswitch.Call[int] {
	call, err := tripswitch.Prepare[int](client(b, opts...),
		tripswitch.WithBreakers("checkout"),
		tripswitch.WithRouter("rtr_checkout"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	if err != nil {
		b.Fatal(err)
	}
	return call
}

// BenchmarkPreparedSample is a prepared call with a latency sample.
func BenchmarkPreparedSample(b *testing.B) {
	call := prepared(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call.Execute(ctx, task); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreparedSampleParallel(b *testing.B) {
	call := prepared(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := call.Execute(ctx, task); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPreparedSampleLocalPolicy(b *testing.B) {
	call := prepared(b, tripswitch.WithLocalFallback(tripswitch.LocalPolicy{}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call.Execute(ctx, task); err != nil {
			b.Fatal(err)
		}
	}
}
