package gateset_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tripswitch-otel/tripswitch-go/internal/gateset"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newClient(t *testing.T) *tripswitch.Client {
	c, err := tripswitch.NewClient(context.Background(), "proj_gateset",
		tripswitch.WithBaseURL("http://127.0.0.1:1"),
		tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithMetadataSyncInterval(0),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func TestGatesAreSharedPerTarget(t *testing.T) {
	c := newClient(t)
	s, err := gateset.New(gateset.Spec{Client: c, LatencyMetric: "latency"}, gateset.Target{Breakers: []string{"a"}, Router: "r"})
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := s.Route("GET /x")
	g2, _ := s.Route("GET /x")
	g3, _ := s.Route("GET /y")
	if g1 != g2 || g1 == g3 {
		t.Fatal("Route: one gate per route expected")
	}
	t1, _ := s.Gate(gateset.Target{Breakers: []string{"a", "b"}, Router: "r"})
	t2, _ := s.Gate(gateset.Target{Breakers: []string{"a", "b"}, Router: "r"})
	t3, _ := s.Gate(gateset.Target{Breakers: []string{"a\x00b"}, Router: "r"})
	if t1 != t2 {
		t.Fatal("Gate: the same target compiled twice")
	}
	if t3 == t1 {
		t.Fatal("Gate: different breaker lists share a gate")
	}
}

func TestBeyondMaxCachedGatesStillWork(t *testing.T) {
	c := newClient(t)
	s, err := gateset.New(gateset.Spec{Client: c}, gateset.Target{Router: "r"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range gateset.MaxCached + 10 {
		g, err := s.Route(fmt.Sprint("route-", i))
		if err != nil || g == nil {
			t.Fatalf("route %d: %v", i, err)
		}
	}
	a, _ := s.Route("route-overflow")
	b, _ := s.Route("route-overflow")
	if a == b {
		t.Fatal("a route beyond the cache bound was cached")
	}
	p, err := b.Allow(context.Background())
	if err != nil || !p.Pending() {
		t.Fatalf("uncached gate: %v", err)
	}
	p.Done(nil)
}

func TestInvalidSpecFailsAtNew(t *testing.T) {
	c := newClient(t)
	if _, err := gateset.New(gateset.Spec{Client: c, Extra: []tripswitch.CallOption{tripswitch.WithMetric("", 1)}}, gateset.Target{Router: "r"}); err == nil {
		t.Fatal("an invalid call option passed New")
	}
}

func TestBreakerListsNeverShareAKey(t *testing.T) {
	c := newClient(t)
	s, err := gateset.New(gateset.Spec{Client: c}, gateset.Target{})
	if err != nil {
		t.Fatal(err)
	}
	lists := [][]string{{"a", "b"}, {"a\x00b"}, {"\x01a\x01b"}, {"ab"}, {"a", "b", "c"}, {"a\x01b", "c"}, {"a", "\x01bc"}}
	seen := map[*tripswitch.Gate][]string{}
	for _, l := range lists {
		g, err := s.Gate(gateset.Target{Breakers: l})
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[g]; dup {
			t.Fatalf("breakers %q and %q share a gate", l, other)
		}
		seen[g] = l
	}
}
