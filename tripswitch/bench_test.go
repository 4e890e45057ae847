package tripswitch_test

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/benchcalls"
	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// benchClient returns a client with no server behind it: nothing is sent
// during the benchmark (long flush interval, large buffer).
func benchClient(b *testing.B) *tripswitch.Client {
	b.Helper()
	c, err := tripswitch.NewClient(context.Background(), "proj_bench",
		tripswitch.WithBaseURL("http://127.0.0.1:1"),
		tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithBatchSize(1<<30),
		tripswitch.WithBufferCapacity(1<<16),
		tripswitch.WithMetadataSyncInterval(0),
		tripswitch.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		b.Fatal(err)
	}
	c.SetState("checkout", tripswitch.StateClosed, 1)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func task() (int, error) { return 1, nil }

func BenchmarkExecute(b *testing.B) { benchcalls.Gated(b, benchClient(b)) }

func BenchmarkPreparedGate(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	call, err := tripswitch.Prepare[int](c, tripswitch.WithBreakers("checkout"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call.Execute(ctx, task); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreparedSample(b *testing.B) {
	benchcalls.Prepared(b, benchcalls.Prepare(b, benchClient(b)))
}

func BenchmarkPreparedSampleParallel(b *testing.B) {
	benchcalls.PreparedParallel(b, benchcalls.Prepare(b, benchClient(b)))
}

// BenchmarkExecuteSample is the unprepared call of the README: options
// per call, one latency sample (the compiled call comes from the client's
// cache).
func BenchmarkExecuteSample(b *testing.B) { benchcalls.ExecuteMetric(b, benchClient(b)) }

// BenchmarkExecuteSampleMetrics is the same with the metric in a map.
func BenchmarkExecuteSampleMetrics(b *testing.B) { benchcalls.ExecuteMetrics(b, benchClient(b)) }

func BenchmarkExecuteSampleParallel(b *testing.B) {
	benchcalls.ExecuteMetricParallel(b, benchClient(b))
}

// BenchmarkLocalGate is a gated call under the local fallback policy (the
// client has no fresh state): a closed local breaker and its outcome.
func BenchmarkLocalGate(b *testing.B) {
	c, err := tripswitch.NewClient(context.Background(), "proj_bench",
		tripswitch.WithBaseURL("http://127.0.0.1:1"),
		tripswitch.WithProjectKey("eb_pk_bench_0123456789abcdef"),
		tripswitch.WithStartupTimeout(0),
		tripswitch.WithMetadataSyncInterval(0),
		tripswitch.WithLocalFallback(tripswitch.LocalPolicy{}),
		tripswitch.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if c == nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = c.Close(ctx)
	})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tripswitch.Execute(c, ctx, task, tripswitch.WithBreakers("checkout")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBatch(b *testing.B) {
	samples := make([]wire.Sample, 500)
	tags := wire.NewTags(map[string]string{"env": "prod", "region": "eu-west-1"})
	for i := range samples {
		samples[i] = wire.Sample{RouterID: "rtr_checkout", Metric: "latency", TsMs: 1764201600123 + int64(i), Value: float64(i%97) + 0.25, OK: i%10 != 0, Tags: tags, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
	}
	enc := wire.NewEncoder(make([]byte, 32))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(samples, 1764201600123); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(samples))/b.Elapsed().Seconds(), "samples/s")
	_ = runtime.NumCPU
}
