package tripswitch_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestExecuteCachedOptions: unprepared calls whose compiled form is cached
// still report exactly their own options, including past the cache's
// bound, and see breaker state changes at once.
func TestExecuteCachedOptions(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	c := faultClient(t, newProxy(t, srv))
	waitState(t, c, "payments", tripswitch.StateClosed)
	ctx := context.Background()
	dep := new(dependency)
	const n = 600 // past the cache's bound of 256 option sets
	for i := range n {
		var opt tripswitch.CallOption
		if i%2 == 0 {
			opt = tripswitch.WithMetric("count", i%300)
		} else {
			opt = tripswitch.WithMetrics(map[string]any{"count": i % 300})
		}
		dep.failing.Store(i%3 == 0)
		_, err := tripswitch.Execute(c, ctx, dep.call,
			tripswitch.WithBreakers("payments"), tripswitch.WithRouter("rtr_fault"), opt,
			tripswitch.WithTraceID("4bf92f3577b34da6a3ce929d0e0e4736"))
		if err != nil && !errors.Is(err, errDependency) {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.Samples(faultProject)
	if len(got) != n {
		t.Fatalf("%d samples, want %d", len(got), n)
	}
	seen := make(map[[2]int]int)
	for _, s := range got {
		if s.RouterID != "rtr_fault" || s.Metric != "count" || s.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("sample %+v", s)
		}
		ok := 0
		if s.OK {
			ok = 1
		}
		seen[[2]int{int(s.Value), ok}]++
	}
	for i := range n {
		want := [2]int{i % 300, 1}
		if i%3 == 0 {
			want[1] = 0
		}
		if seen[want] == 0 {
			t.Fatalf("no sample of call %d (value %d, ok %d)", i, want[0], want[1])
		}
		seen[want]--
	}

	// A cached call sees the breaker open.
	if err := srv.ForceState(faultProject, "payments", "open", 0); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "payments", tripswitch.StateOpen)
	_, err := tripswitch.Execute(c, ctx, dep.call,
		tripswitch.WithBreakers("payments"), tripswitch.WithRouter("rtr_fault"), tripswitch.WithMetric("count", 1),
		tripswitch.WithTraceID("4bf92f3577b34da6a3ce929d0e0e4736"))
	if reason(err) != tripswitch.ReasonOpen {
		t.Fatalf("cached call on an open breaker: %v", err)
	}
}

// TestExecuteCachedCallFollowsNewBreaker: a call cached while its breaker
// is unknown gates on that breaker once the server creates and opens it,
// and on other breakers' names not at all.
func TestExecuteCachedCallFollowsNewBreaker(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	c := faultClient(t, newProxy(t, srv))
	waitState(t, c, "payments", tripswitch.StateClosed)
	ctx := context.Background()
	call := func(breaker string) error {
		_, err := tripswitch.Execute(c, ctx, task,
			tripswitch.WithBreakers(breaker), tripswitch.WithRouter("rtr_fault"),
			tripswitch.WithMetrics(map[string]any{"latency": tripswitch.Latency}))
		return err
	}
	for range 3 { // compiled, then cached
		if err := call("refunds"); err != nil {
			t.Fatalf("unknown breaker: %v, want the call to run", err)
		}
	}
	err := srv.Seed(faultProject, localserver.Seed{Breakers: []localserver.SeedBreaker{{
		Name: "refunds", Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5,
		MinCount: 1_000_000, RouterIDs: []string{"rtr_fault"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ForceState(faultProject, "refunds", "open", 0); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "refunds", tripswitch.StateOpen)
	if err := call("refunds"); reason(err) != tripswitch.ReasonOpen {
		t.Fatalf("cached call on a breaker created and opened since: %v, want ReasonOpen", err)
	}
	if err := call("payments"); err != nil {
		t.Fatalf("call on the closed breaker: %v", err)
	}
}

// TestExecuteInvalidMetricNamesStillRejected: the options the cache
// recognises are still validated.
func TestExecuteInvalidMetricNamesStillRejected(t *testing.T) {
	c, _ := staleClient(t, tripswitch.LocalPolicy{})
	for _, opts := range [][]tripswitch.CallOption{
		{tripswitch.WithRouter("r"), tripswitch.WithMetric("", tripswitch.Latency)},
		{tripswitch.WithRouter("r"), tripswitch.WithMetrics(map[string]any{"": tripswitch.Latency})},
		{tripswitch.WithRouter("r"), tripswitch.WithMetric("m", 1), tripswitch.WithMetric("m", tripswitch.Latency)},
	} {
		for range 2 { // the second time would be a cache hit
			if _, err := tripswitch.Execute(c, context.Background(), task, opts...); !errors.Is(err, tripswitch.ErrInvalidOption) {
				t.Fatalf("%v, want ErrInvalidOption", err)
			}
		}
	}
}

// TestExecuteAllocs holds the allocation targets of the plain call: at
// most one allocation with WithMetric, two with a one-entry WithMetrics.
func TestExecuteAllocs(t *testing.T) {
	c, err := tripswitch.NewClient(context.Background(), "proj_allocs",
		tripswitch.WithBaseURL("http://127.0.0.1:1"),
		tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithBatchSize(1<<20),
		tripswitch.WithBufferCapacity(1<<16),
		tripswitch.WithMetadataSyncInterval(0),
		tripswitch.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = c.Close(ctx)
	})
	c.SetState("checkout", tripswitch.StateClosed, 1)
	ctx := context.Background()
	metric := testing.AllocsPerRun(1000, func() {
		_, _ = tripswitch.Execute(c, ctx, task,
			tripswitch.WithBreakers("checkout"),
			tripswitch.WithRouter("rtr_checkout"),
			tripswitch.WithMetric("latency", tripswitch.Latency))
	})
	metrics := testing.AllocsPerRun(1000, func() {
		_, _ = tripswitch.Execute(c, ctx, task,
			tripswitch.WithBreakers("checkout"),
			tripswitch.WithRouter("rtr_checkout"),
			tripswitch.WithMetrics(map[string]any{"latency": tripswitch.Latency}))
	})
	if metric > 1 || metrics > 2 {
		t.Fatalf("allocs per call: WithMetric %v (want ≤ 1), WithMetrics %v (want ≤ 2)", metric, metrics)
	}
}
