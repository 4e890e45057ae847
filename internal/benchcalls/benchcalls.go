// Package benchcalls holds the bodies of the call benchmarks that
// tripswitch's own benchmarks and bench/compare (beside sony/gobreaker)
// both run, so that the two tables measure the very same calls. Each call
// is written out with its options inline, as users write it: the options
// then stay on the caller's stack.
//
// The client must know breaker "checkout" and router "rtr_checkout".
package benchcalls

import (
	"context"
	"testing"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func task() (int, error) { return 1, nil }

// Gated is Execute gated on one breaker, without a sample.
func Gated(b *testing.B, c *tripswitch.Client) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tripswitch.Execute(c, ctx, task, tripswitch.WithBreakers("checkout")); err != nil {
			b.Fatal(err)
		}
	}
}

// ExecuteMetric is the call every README snippet shows: a breaker, a
// router and a latency sample.
func ExecuteMetric(b *testing.B, c *tripswitch.Client) {
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

// ExecuteMetricParallel is ExecuteMetric under b.RunParallel.
func ExecuteMetricParallel(b *testing.B, c *tripswitch.Client) {
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

// ExecuteMetrics is ExecuteMetric with the metric in a one-entry map.
func ExecuteMetrics(b *testing.B, c *tripswitch.Client) {
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

// ExecuteMetricsParallel is ExecuteMetrics under b.RunParallel.
func ExecuteMetricsParallel(b *testing.B, c *tripswitch.Client) {
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

// Prepare compiles the ExecuteMetric call once.
func Prepare(b *testing.B, c *tripswitch.Client) *tripswitch.Call[int] {
	call, err := tripswitch.Prepare[int](c,
		tripswitch.WithBreakers("checkout"),
		tripswitch.WithRouter("rtr_checkout"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	if err != nil {
		b.Fatal(err)
	}
	return call
}

// Prepared runs a prepared call.
func Prepared(b *testing.B, call *tripswitch.Call[int]) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call.Execute(ctx, task); err != nil {
			b.Fatal(err)
		}
	}
}

// PreparedParallel is Prepared under b.RunParallel.
func PreparedParallel(b *testing.B, call *tripswitch.Call[int]) {
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
