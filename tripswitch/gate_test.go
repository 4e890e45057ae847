package tripswitch_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func TestGateSamplesMatchExecute(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f,
		tripswitch.WithGlobalTags(map[string]string{"env": "prod"}),
		tripswitch.WithTraceIDExtractor(func(context.Context) string { return "4bf92f3577b34da6a3ce929d0e0e4736" }),
	)
	opts := []tripswitch.CallOption{
		tripswitch.WithBreakers("checkout"),
		tripswitch.WithRouter("rtr_checkout"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
		tripswitch.WithMetric("bytes", 4096),
		tripswitch.WithTag("region", "eu"),
	}
	errBoom := errors.New("boom")
	_, _ = tripswitch.Execute(c, context.Background(), func() (int, error) {
		time.Sleep(20 * time.Millisecond)
		return 0, errBoom
	}, opts...)

	permit, err := tripswitch.Allow(c, context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !permit.Pending() {
		t.Fatal("permit with a router is not pending")
	}
	time.Sleep(20 * time.Millisecond) // latency counts from the gate
	permit.Done(errBoom)
	if permit.Pending() {
		t.Fatal("permit still pending after Done")
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	samples := f.samples()
	if len(samples) != 4 {
		t.Fatalf("samples = %d, want 2 from Execute and 2 from the gate", len(samples))
	}
	// The buffer does not keep the order of samples across its shards:
	// put Execute's (the earlier start) first, each call's by metric.
	slices.SortFunc(samples, func(a, b map[string]any) int {
		if c := cmp.Compare(num(t, a["ts_ms"]), num(t, b["ts_ms"])); c != 0 {
			return c
		}
		return cmp.Compare(fmt.Sprint(a["metric"]), fmt.Sprint(b["metric"]))
	})
	for i := range 2 {
		ex, gt := samples[i], samples[i+2]
		for _, k := range []string{"router_id", "metric", "ok", "trace_id"} {
			if fmt.Sprint(ex[k]) != fmt.Sprint(gt[k]) {
				t.Errorf("%s: Execute %v, gate %v", k, ex[k], gt[k])
			}
		}
		if fmt.Sprint(ex["tags"]) != fmt.Sprint(gt["tags"]) {
			t.Errorf("tags: Execute %v, gate %v", ex["tags"], gt["tags"])
		}
		if gt["metric"] == "latency" {
			if v := num(t, gt["value"]); v < 20 {
				t.Errorf("gate latency %v ms, want ≥ 20 (measured from Allow)", v)
			}
		}
	}
	if samples[2]["ok"] != false {
		t.Errorf("Done(errBoom) reported ok = %v", samples[2]["ok"])
	}
}

func TestGateRejectsLikeExecute(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	var hooked []string
	c2 := newTestClient(t, f, tripswitch.WithHooks(tripswitch.Hooks{
		Rejected: func(_ context.Context, err *tripswitch.BreakerError) { hooked = append(hooked, err.Breaker) },
	}))
	for _, cl := range []*tripswitch.Client{c, c2} {
		cl.SetState("checkout", tripswitch.StateOpen, 0)
	}
	gate, err := tripswitch.PrepareGate(c2, tripswitch.WithBreakers("checkout"), tripswitch.WithRouter("rtr_checkout"), tripswitch.WithMetric("m", 1))
	if err != nil {
		t.Fatal(err)
	}
	_, execErr := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakers("checkout"))
	for name, allow := range map[string]func() (tripswitch.Permit, error){
		"unprepared": func() (tripswitch.Permit, error) {
			return tripswitch.Allow(c, context.Background(), tripswitch.WithBreakers("checkout"), tripswitch.WithRouter("rtr_checkout"))
		},
		"gate-only": func() (tripswitch.Permit, error) {
			return tripswitch.Allow(c, context.Background(), tripswitch.WithBreakers("checkout"))
		},
		"prepared": func() (tripswitch.Permit, error) { return gate.Allow(context.Background()) },
	} {
		permit, err := allow()
		var be *tripswitch.BreakerError
		if !errors.Is(err, tripswitch.ErrOpen) || !errors.As(err, &be) || be.Reason != tripswitch.ReasonOpen {
			t.Errorf("%s: err = %v, want an open *BreakerError", name, err)
		}
		if err.Error() != execErr.Error() {
			t.Errorf("%s: err %q, Execute's %q", name, err, execErr)
		}
		if permit.Pending() {
			t.Errorf("%s: rejected permit is pending", name)
		}
		permit.Done(nil) // completing a rejected permit does nothing
	}
	if len(hooked) != 1 || hooked[0] != "checkout" {
		t.Errorf("Rejected hook calls = %v, want one for checkout", hooked)
	}
	_ = c.Flush(context.Background())
	if n := len(f.samples()); n != 0 {
		t.Errorf("rejected calls produced %d samples", n)
	}
}

func TestPermitCompletesOnce(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	gate, err := tripswitch.PrepareGate(c, tripswitch.WithBreakers("checkout"), tripswitch.WithRouter("rtr_checkout"), tripswitch.WithMetric("m", 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Twice in a row, and through a copy.
	p1, _ := gate.Allow(ctx)
	cp := p1
	p1.Done(nil)
	p1.Done(errors.New("second"))
	cp.Finish(tripswitch.Outcome{OK: false})

	// A stale copy must not complete a later call that reuses its slot.
	var stale []tripswitch.Permit
	for range 50 {
		p, _ := gate.Allow(ctx)
		stale = append(stale, p)
		p.Done(nil)
	}
	p2, _ := gate.Allow(ctx)
	for _, s := range stale {
		s.Done(errors.New("stale"))
	}
	if !p2.Pending() {
		t.Fatal("a stale copy completed a later permit")
	}
	p2.Done(nil)

	// Concurrently from many goroutines.
	p3, _ := gate.Allow(ctx)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { p3.Done(nil) })
	}
	wg.Wait()

	_ = c.Flush(ctx)
	samples := f.samples()
	if len(samples) != 53 { // p1, 50 in the loop, p2, p3
		t.Fatalf("samples = %d, want 53 (one per permit)", len(samples))
	}
	for i, s := range samples {
		if s["ok"] != true {
			t.Fatalf("sample %d ok = %v: a second completion was reported", i, s["ok"])
		}
	}
}

func TestForgottenPermitEmitsNothingAndIsCollected(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	gate, err := tripswitch.PrepareGate(c, tripswitch.WithBreakers("checkout"), tripswitch.WithRouter("rtr_checkout"), tripswitch.WithMetric("latency", tripswitch.Latency))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 100_000 {
		ctx := context.WithValue(context.Background(), struct{}{}, make([]byte, 64)) // something a leak would hold
		if _, err := gate.Allow(ctx); err != nil {
			t.Fatal(i, err)
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("100000 forgotten permits: %d bytes live", grew)
	if grew > 1<<20 { // each forgotten permit holds ≥ 160 bytes: 16 MB if kept
		t.Fatalf("forgotten permits hold %d bytes", grew)
	}
	_ = c.Flush(context.Background())
	if s := c.Stats(); s.Produced != 0 || len(f.samples()) != 0 {
		t.Fatalf("forgotten permits produced %d samples", s.Produced)
	}
	// goleak in TestMain checks that no goroutine waits on them.
}

func TestPermitFinishOutcome(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f,
		tripswitch.WithGlobalTags(map[string]string{"env": "prod"}),
		tripswitch.WithTraceIDExtractor(func(context.Context) string { return "11111111111111111111111111111111" }),
	)
	gate, err := tripswitch.PrepareGate(c, tripswitch.WithRouter("rtr_checkout"), tripswitch.WithMetric("latency", tripswitch.Latency), tripswitch.WithTag("region", "eu"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := gate.Allow(context.Background())
	metrics := map[string]float64{"tokens": 812, "bad": nan()}
	p.Finish(tripswitch.Outcome{
		OK:      false,
		Metrics: metrics,
		Tags:    map[string]string{"region": "us", "status": "503"},
		TraceID: "22222222222222222222222222222222",
	})
	metrics["tokens"] = 1 // the outcome's maps are not kept
	p2, _ := gate.Allow(context.Background())
	p2.Finish(tripswitch.Outcome{OK: true})
	_ = c.Flush(context.Background())

	samples := f.samples()
	if len(samples) != 3 {
		t.Fatalf("samples = %d, want latency+tokens, then latency (bad skipped)", len(samples))
	}
	by := map[string]map[string]any{}
	for _, s := range samples[:2] {
		by[s["metric"].(string)] = s
	}
	tok := by["tokens"]
	if tok == nil || num(t, tok["value"]) != 812 || tok["ok"] != false {
		t.Fatalf("tokens sample %v", tok)
	}
	for _, s := range samples[:2] {
		if got := fmt.Sprint(s["tags"]); got != "map[env:prod region:us status:503]" {
			t.Errorf("%s tags %s", s["metric"], got)
		}
		if s["trace_id"] != "22222222222222222222222222222222" {
			t.Errorf("%s trace %v", s["metric"], s["trace_id"])
		}
	}
	plain := samples[2]
	if plain["ok"] != true || plain["trace_id"] != "11111111111111111111111111111111" || fmt.Sprint(plain["tags"]) != "map[env:prod region:eu]" {
		t.Errorf("a later permit kept the outcome of an earlier one: %v", plain)
	}
	if s := c.Stats(); s.Dropped != 1 {
		t.Errorf("dropped = %d, want 1 (the non-finite metric)", s.Dropped)
	}
}

func TestPermitDoneClassifiesLikeExecute(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	errIgnored := errors.New("not found")
	run := func(err error, opts ...tripswitch.CallOption) {
		p, aerr := tripswitch.Allow(c, context.Background(), append([]tripswitch.CallOption{tripswitch.WithRouter("r"), tripswitch.WithMetric("m", 1)}, opts...)...)
		if aerr != nil {
			t.Fatal(aerr)
		}
		p.Done(err)
	}
	run(nil)
	run(errors.New("boom"))
	run(fmt.Errorf("wrapped: %w", errIgnored), tripswitch.WithIgnoreErrors(errIgnored))
	run(errors.New("boom"), tripswitch.WithErrorEvaluator(func(error) bool { return false }))
	run(errors.New("boom"), tripswitch.WithErrorEvaluator(func(error) bool { panic("bad evaluator") }))
	_ = c.Flush(context.Background())
	var got []bool
	for _, s := range f.samples() {
		got = append(got, s["ok"].(bool))
	}
	if want := []bool{true, false, true, true, false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ok = %v, want %v", got, want)
	}
}

func TestGateInvalidOptions(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	for name, tc := range map[string]struct {
		opts []tripswitch.CallOption
		want error
	}{
		"deferred":  {[]tripswitch.CallOption{tripswitch.WithRouter("r"), tripswitch.WithDeferredMetrics(func(int, error) map[string]float64 { return nil })}, tripswitch.ErrInvalidOption},
		"conflict":  {[]tripswitch.CallOption{tripswitch.WithRouter("r"), tripswitch.WithRouterSelector(func([]tripswitch.RouterMeta) string { return "" })}, tripswitch.ErrConflictingOptions},
		"empty":     {[]tripswitch.CallOption{tripswitch.WithBreakers("")}, tripswitch.ErrInvalidOption},
		"nilOption": {[]tripswitch.CallOption{nil}, tripswitch.ErrInvalidOption},
	} {
		if _, err := tripswitch.PrepareGate(c, tc.opts...); !errors.Is(err, tc.want) {
			t.Errorf("%s: PrepareGate err = %v, want %v", name, err, tc.want)
		}
		if p, err := tripswitch.Allow(c, context.Background(), tc.opts...); !errors.Is(err, tc.want) || p.Pending() {
			t.Errorf("%s: Allow err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestPreparedGateAllocatesNothing(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithFlushInterval(time.Hour), tripswitch.WithBatchSize(1<<20))
	gate, err := tripswitch.PrepareGate(c, tripswitch.WithBreakers("checkout"), tripswitch.WithRouter("rtr_checkout"), tripswitch.WithMetric("latency", tripswitch.Latency))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := gate.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
	})
	if allocs != 0 {
		t.Fatalf("prepared Allow+Done allocates %v times, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		p, _ := gate.Allow(ctx)
		p.Finish(tripswitch.Outcome{OK: true, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"})
	})
	if allocs != 0 {
		t.Fatalf("prepared Allow+Finish with a trace ID allocates %v times, want 0", allocs)
	}
	if s := c.Stats(); s.Produced < 1000 {
		t.Fatalf("produced %d samples, want ≥ 1000", s.Produced)
	}
}

func BenchmarkGate(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	gate, err := tripswitch.PrepareGate(c,
		tripswitch.WithBreakers("checkout"),
		tripswitch.WithRouter("rtr_checkout"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := gate.Allow(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.Done(nil)
	}
}
