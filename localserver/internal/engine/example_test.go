package engine_test

import (
	"fmt"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

func Example() {
	cfg := engine.Config{
		Metric: "latency_ms", Kind: engine.KindP95, Op: engine.OpGt, Threshold: 500,
		MinCount: 10, CooldownMs: 30_000, RecoveryAllowRateRampSteps: 4,
	}
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	const start = int64(1_764_201_600_000)
	b := engine.New(cfg, start)

	// 20 slow calls trip the breaker at the next evaluation.
	for i := range 20 {
		b.Add(engine.Sample{TsMs: start + int64(i), Value: 800 + float64(i), OK: true})
	}
	t, _ := b.Evaluate(b.NextEvalMs())
	fmt.Printf("%s → %s: %s\n", t.From, t.To, t.Reason)

	// After the cooldown it probes with a quarter of the traffic.
	t, _ = b.Evaluate(t.AtMs + 30_000)
	fmt.Printf("%s → %s at allow_rate %v: %s\n", t.From, t.To, t.AllowRate, t.Reason)
	// Output:
	// closed → open: p95 818 > 500 over 20 samples
	// open → half_open at allow_rate 0.25: cooldown 30s elapsed
}

func ExampleConfig_Validate() {
	err := engine.Config{Metric: "latency_ms", Kind: "p99", Op: "gt", Threshold: 500}.Validate()
	fmt.Println(err)
	// Output:
	// kind: unknown kind "p99"; want one of error_rate, avg, p95, percentile, max, min, sum, stddev, count, consecutive_failures, delta
}
