package localserver_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

var errorRateSeed = localserver.Seed{
	Routers: []localserver.SeedRouter{{ID: "rtr_a", Name: "a"}, {ID: "rtr_b", Name: "b"}},
	Breakers: []localserver.SeedBreaker{{
		Name: "errors", Metric: "req", Kind: "error_rate", Op: "gt", Threshold: 0.5,
		WindowMs: 10_000, MinCount: 4, CooldownMs: 5_000, EvalIntervalMs: 1_000,
		HalfOpenConfirmationMs: 1_000, RouterIDs: []string{"rtr_a"},
	}},
}

func failing(n int, router, metric string, at time.Time) []localserver.Sample {
	out := make([]localserver.Sample, n)
	for i := range out {
		out[i] = localserver.Sample{RouterID: router, Metric: metric, TsMs: at.UnixMilli(), Value: 1, OK: false}
	}
	return out
}

func TestBreakerLifecycleOverHTTP(t *testing.T) {
	srv, clock := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	if e := st.next(); e["breaker"] != "errors" || e["state"] != "closed" || e["allow_rate"] != 1.0 {
		t.Fatalf("snapshot event = %v, want errors closed 1", e)
	}

	// Only samples of a linked router with the breaker's metric count.
	wantStatus(t, ingest(t, srv, clock.Now(), failing(10, "rtr_a", "req", clock.Now())...), http.StatusAccepted)
	wantStatus(t, ingest(t, srv, clock.Now(), failing(10, "rtr_b", "req", clock.Now())...), http.StatusAccepted)
	wantStatus(t, ingest(t, srv, clock.Now(), failing(10, "rtr_a", "latency", clock.Now())...), http.StatusAccepted)
	if v, n, err := srv.Aggregate(c.ProjectID, "errors"); err != nil || n != 10 || v != 1 {
		t.Fatalf("Aggregate = %v, %d, %v; want 1, 10, nil", v, n, err)
	}
	if got := len(srv.Samples(c.ProjectID)); got != 30 {
		t.Fatalf("Samples has %d samples, want 30", got)
	}

	clock.Advance(time.Second)
	srv.Evaluate()
	if e := st.next(); e["state"] != "open" || e["allow_rate"] != 0.0 {
		t.Fatalf("after failures: event %v, want open 0", e)
	}
	ev := call(t, http.MethodGet, projectURL(srv, "/events"), c.AdminKey, nil)
	wantStatus(t, ev, http.StatusOK)
	events := ev.json(t)["events"].([]any)
	if len(events) != 1 {
		t.Fatalf("events = %v, want one", events)
	}
	first := events[0].(map[string]any)
	if first["from_state"] != "closed" || first["to_state"] != "open" || !strings.Contains(first["reason"].(string), "error_rate") {
		t.Fatalf("event = %v, want closed→open with an error_rate reason", first)
	}

	clock.Advance(5 * time.Second)
	srv.Evaluate()
	if e := st.next(); e["state"] != "half_open" || e["allow_rate"] != 0.5 {
		t.Fatalf("after cooldown: event %v, want half_open 0.5", e)
	}
	st2 := call(t, http.MethodGet, projectURL(srv, "/status"), c.ProjectKey, nil)
	wantStatus(t, st2, http.StatusOK)
	if m := st2.json(t); m["open_count"] != 0.0 || m["last_eval_ms"] != float64(clock.Now().UnixMilli()) {
		t.Fatalf("status = %v", m)
	}

	for i := 0; i < 20; i++ {
		ok := make([]localserver.Sample, 5)
		for j := range ok {
			ok[j] = localserver.Sample{RouterID: "rtr_a", Metric: "req", TsMs: clock.Now().UnixMilli(), Value: 1, OK: true}
		}
		wantStatus(t, ingest(t, srv, clock.Now(), ok...), http.StatusAccepted)
		clock.Advance(500 * time.Millisecond)
		srv.Evaluate()
		if state, _, _ := srv.BreakerState(c.ProjectID, "errors"); state == "closed" {
			break
		}
	}
	if e := st.next(); e["state"] != "closed" || e["allow_rate"] != 1.0 {
		t.Fatalf("after successes: event %v, want closed 1", e)
	}
}

func TestForceStatePushesAndRecords(t *testing.T) {
	srv, _ := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	st.next() // snapshot

	if err := srv.ForceState(c.ProjectID, "errors", "half_open", 0.25); err != nil {
		t.Fatal(err)
	}
	if e := st.next(); e["state"] != "half_open" || e["allow_rate"] != 0.25 {
		t.Fatalf("event = %v, want half_open 0.25", e)
	}
	r := call(t, http.MethodGet, projectURL(srv, "/breakers/errors/state"), c.AdminKey, nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["state"] != "half_open" || m["allow_rate"] != 0.25 {
		t.Fatalf("state = %v", m)
	}
	ev := call(t, http.MethodGet, projectURL(srv, "/events?breaker_id=errors"), c.AdminKey, nil).json(t)
	if ev["returned"] != 1.0 {
		t.Fatalf("events = %v, want the forced transition", ev)
	}

	for _, tc := range []struct{ state, name string }{{"purple", "errors"}, {"open", "nope"}} {
		if err := srv.ForceState(c.ProjectID, tc.name, tc.state, 0); err == nil {
			t.Errorf("ForceState(%q, %q) succeeded", tc.name, tc.state)
		}
	}
	if err := srv.ForceState(c.ProjectID, "errors", "half_open", 2); err == nil {
		t.Error("ForceState with allow rate 2 succeeded")
	}
}

func TestEvaluationLoopRunsWithoutHelp(t *testing.T) {
	srv := localservertest.Start(t, localservertest.WithEvalTick(10*time.Millisecond))
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_a", Name: "a"}},
		Breakers: []localserver.SeedBreaker{{Name: "fast", Metric: "m", Kind: "count", Op: "gte", Threshold: 3,
			EvalIntervalMs: 20, RouterIDs: []string{"rtr_a"}}},
	})
	wantStatus(t, ingest(t, srv, time.Now(), failing(3, "rtr_a", "m", time.Now())...), http.StatusAccepted)
	waitFor(t, "the loop to open the breaker", func() bool {
		s, _, _ := srv.BreakerState(srv.Credentials().ProjectID, "fast")
		return s == "open"
	})
}
