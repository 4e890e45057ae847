package tripswitch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func num(t *testing.T, v any) float64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a JSON number", v, v)
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestOKClassification(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	errIgnored := errors.New("not found")
	errOther := errors.New("boom")
	run := func(err error, opts ...tripswitch.CallOption) {
		_, _ = tripswitch.Execute(c, context.Background(), func() (int, error) { return 0, err },
			append([]tripswitch.CallOption{tripswitch.WithRouter("r"), tripswitch.WithMetric("m", 1)}, opts...)...)
	}
	run(nil)                                                                                                                  // ok
	run(errOther)                                                                                                             // failure
	run(fmt.Errorf("wrapped: %w", errIgnored), tripswitch.WithIgnoreErrors(errIgnored))                                       // ignored → ok
	run(errIgnored, tripswitch.WithIgnoreErrors(errIgnored), tripswitch.WithErrorEvaluator(func(error) bool { return true })) // evaluator wins → failure
	run(errOther, tripswitch.WithErrorEvaluator(func(error) bool { return false }))                                           // → ok
	run(errOther, tripswitch.WithErrorEvaluator(func(error) bool { panic("bad evaluator") }))                                 // panic → failure
	_ = c.Flush(context.Background())
	var got []bool
	for _, s := range f.samples() {
		got = append(got, s["ok"].(bool))
	}
	want := []bool{true, false, true, false, true, false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ok = %v, want %v", got, want)
	}
}

func TestTaskPanicReportsFailureAndRepanics(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	func() {
		defer func() {
			if r := recover(); r != "task exploded" {
				t.Fatalf("recovered %v, want the original panic value", r)
			}
		}()
		_, _ = tripswitch.Execute(c, context.Background(), func() (int, error) { panic("task exploded") },
			tripswitch.WithRouter("r"), tripswitch.WithMetric("latency", tripswitch.Latency))
	}()
	_ = c.Flush(context.Background())
	got := f.samples()
	if len(got) != 1 || got[0]["ok"] != false {
		t.Fatalf("samples %v, want one failure", got)
	}
}

func TestMetricClosurePanicsAreRecovered(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithTraceIDExtractor(func(context.Context) string { panic("extractor") }))
	v, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 7, nil },
		tripswitch.WithRouter("r"),
		tripswitch.WithMetric("good", 1),
		tripswitch.WithMetric("bad", func() float64 { panic("metric") }),
		tripswitch.WithDeferredMetrics(func(int, error) map[string]float64 { panic("deferred") }),
	)
	if v != 7 || err != nil {
		t.Fatalf("Execute = %v, %v", v, err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Produced != 2 || s.Dropped != 1 {
		t.Fatalf("stats %+v: the panicking metric must be produced and dropped", s)
	}
}

func TestDeferredMetrics(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	type resp struct{ in, out int }
	_, err := tripswitch.Execute(c, context.Background(), func() (resp, error) { return resp{12, 30}, nil },
		tripswitch.WithRouter("llm"),
		tripswitch.WithDeferredMetrics(func(r resp, err error) map[string]float64 {
			return map[string]float64{"prompt_tokens": float64(r.in), "completion_tokens": float64(r.out)}
		}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil },
		tripswitch.WithRouter("llm"),
		tripswitch.WithDeferredMetrics(func(r string, err error) map[string]float64 { return nil }))
	if !errors.Is(err, tripswitch.ErrInvalidOption) || !strings.Contains(err.Error(), "WithDeferredMetrics") {
		t.Fatalf("mismatched deferred type: %v", err)
	}
	_ = c.Flush(context.Background())
	got := map[string]float64{}
	for _, s := range f.samples() {
		got[s["metric"].(string)] = num(t, s["value"])
	}
	if got["prompt_tokens"] != 12 || got["completion_tokens"] != 30 || len(got) != 2 {
		t.Fatalf("deferred samples %v", got)
	}
}

func TestInvalidCallOptions(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	task := func() (int, error) { return 1, nil }
	for name, opt := range map[string]tripswitch.CallOption{
		"WithMetric":   tripswitch.WithMetric("x", "not a number"),
		"WithRouter":   tripswitch.WithRouter(""),
		"WithBreakers": tripswitch.WithBreakers(""),
	} {
		_, err := tripswitch.Execute(c, context.Background(), task, opt)
		if !errors.Is(err, tripswitch.ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := tripswitch.Prepare[int](c, tripswitch.WithMetric("a", 1), tripswitch.WithMetric("a", 2)); err == nil {
		t.Error("duplicate metric accepted")
	}
}

// TestHalfOpenThrottling checks the allow rate with an injected random
// source: the smallest rate among half-open breakers decides.
func TestHalfOpenThrottling(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{
		`{"breaker":"a","state":"half_open","allow_rate":0.5}`,
		`{"breaker":"b","state":"half_open","allow_rate":0.2}`,
		`{"breaker":"c","state":"closed","allow_rate":1}`,
	}
	var draws atomic.Uint64
	// A deterministic stream of uniform draws: 0.005, 0.015, ... 0.995.
	rnd := func() float64 { n := draws.Add(1) - 1; return (float64(n%100) + 0.5) / 100 }
	c := newTestClient(t, f, tripswitch.WithRandom(rnd))
	eventually(t, "the whole snapshot", func() bool { return len(c.States()) == 3 })
	task := func() (int, error) { return 1, nil }
	prepared, err := tripswitch.Prepare[int](c, tripswitch.WithBreakers("a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	var allowed, throttledByB int
	for range 1000 {
		_, err := prepared.Execute(context.Background(), task)
		var be *tripswitch.BreakerError
		switch {
		case err == nil:
			allowed++
		case errors.As(err, &be) && be.Reason == tripswitch.ReasonThrottled && be.Breaker == "b":
			throttledByB++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if allowed != 200 || throttledByB != 800 {
		t.Fatalf("allowed %d, throttled %d: want exactly 20%% allowed", allowed, throttledByB)
	}
	// Unprepared calls follow the same rule.
	allowed = 0
	for range 1000 {
		if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakers("c", "a")); err == nil {
			allowed++
		}
	}
	if allowed != 500 {
		t.Fatalf("allowed %d of 1000 at rate 0.5", allowed)
	}
}

// TestRejectedHook checks that hooks see rejections with the call's ctx.
func TestRejectedHook(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{`{"breaker":"checkout","state":"open","allow_rate":0}`}
	type key struct{}
	var seen []string
	c := newTestClient(t, f, tripswitch.WithHooks(tripswitch.Hooks{Rejected: func(ctx context.Context, err *tripswitch.BreakerError) {
		seen = append(seen, fmt.Sprint(ctx.Value(key{}), " ", err.Breaker, " ", err.Reason))
	}}))
	ctx := context.WithValue(context.Background(), key{}, "req-1")
	ran := false
	_, err := tripswitch.Execute(c, ctx, func() (int, error) { ran = true; return 1, nil }, tripswitch.WithBreakers("checkout"))
	var be *tripswitch.BreakerError
	if ran || !errors.As(err, &be) || !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("ran=%v err=%v", ran, err)
	}
	if len(seen) != 1 || seen[0] != "req-1 checkout open" {
		t.Fatalf("hook saw %v", seen)
	}
}
