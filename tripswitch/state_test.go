package tripswitch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/admin"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func snapshotOf(n int, state func(i int) string) []string {
	evs := make([]string, n)
	for i := range evs {
		st := state(i)
		rate := 1
		if st == "open" {
			rate = 0
		}
		evs[i] = fmt.Sprintf(`{"breaker":"b-%d","state":"%s","allow_rate":%d}`, i, st, rate)
	}
	return evs
}

// TestLargeSnapshot: a project with 40,000 breakers syncs completely, and
// a call gated on an open one is rejected (before, each new name copied
// the whole cache and the snapshot took minutes).
func TestLargeSnapshot(t *testing.T) {
	const n = 40_000
	f := newFakeServer(t)
	f.snapshot = snapshotOf(n, func(i int) string {
		if i == n-1 {
			return "open"
		}
		return "closed"
	})
	c := newTestClient(t, f)
	eventually(t, "the whole snapshot", func() bool { return c.Stats().CachedBreakers == n })
	_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("b-0", fmt.Sprintf("b-%d", n-1)))
	if !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("err = %v, want the last breaker of the snapshot to reject", err)
	}
}

// TestStreamBreakerLimit: past the limit, events for new breakers are
// ignored (logged once); known breakers keep updating.
func TestStreamBreakerLimit(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = snapshotOf(15, func(int) string { return "closed" })
	logs, logger := captureLogs()
	c := newTestClient(t, f, tripswitch.WithMaxBreakers(10), tripswitch.WithLogger(logger))
	f.send("b-14", "open", 0)
	f.send("b-3", "open", 0)
	waitState(t, c, "b-3", tripswitch.StateOpen)
	if s := c.Stats(); s.CachedBreakers != 10 {
		t.Fatalf("CachedBreakers = %d, want the limit 10", s.CachedBreakers)
	}
	if _, ok := c.State("b-14"); ok {
		t.Fatal("a breaker beyond the limit was cached")
	}
	if n := strings.Count(logs(), "more breakers than the client keeps"); n != 1 {
		t.Fatalf("%d overflow messages, want 1:\n%s", n, logs())
	}
}

// TestPreparedCallKeepsItsBreakerThroughDeletion: a breaker deleted on the
// server leaves the cache, but a prepared call still sees it when it comes
// back.
func TestPreparedCallKeepsItsBreakerThroughDeletion(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	p := newProxy(t, srv)
	c := faultClient(t, p, tripswitch.WithMetadataSyncInterval(20*time.Millisecond))
	call, err := tripswitch.Prepare[int](c, tripswitch.WithBreakers("payments"))
	if err != nil {
		t.Fatal(err)
	}
	run := func() error {
		_, err := call.Execute(context.Background(), func() (int, error) { return 1, nil })
		return err
	}
	deleteBreaker(t, srv, "payments")
	eventually(t, "the deleted breaker to leave the cache", func() bool { _, ok := c.State("payments"); return !ok })
	seedFault(t, srv) // created again
	if err := srv.ForceState(faultProject, "payments", "open", 0); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "payments", tripswitch.StateOpen)
	if err := run(); !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("prepared call after the breaker came back: %v", err)
	}
}

// TestUnknownNamesWarnOnce: breaker names and router IDs the project does
// not have are reported once each after a metadata sync; known ones never.
func TestUnknownNamesWarnOnce(t *testing.T) {
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_checkout", Name: "checkout"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "checkout-errors", Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5, MinCount: 1_000_000,
			RouterIDs: []string{"rtr_checkout"},
		}},
	})
	creds := srv.Credentials()
	logs, logger := captureLogs()
	c, err := tripswitch.NewClient(context.Background(), creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL), tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret), tripswitch.WithLogger(logger),
		tripswitch.WithMetadataSyncInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, c)
	prepared, err := tripswitch.Prepare[int](c, tripswitch.WithBreakers("checkout-errors", "prepared-typo"))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, _ = tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil },
			tripswitch.WithBreakers("checkout-errors", "checkout-erors"),
			tripswitch.WithRouter("rtr_checkot"), tripswitch.WithMetric("latency", tripswitch.Latency))
		_, _ = tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil },
			tripswitch.WithBreakers("checkout-errors"),
			tripswitch.WithRouter("rtr_checkout"), tripswitch.WithMetric("latency", tripswitch.Latency))
		_, _ = prepared.Execute(context.Background(), func() (int, error) { return 1, nil })
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the warnings", func() bool {
		l := logs()
		return strings.Contains(l, "breaker=checkout-erors") && strings.Contains(l, "router=rtr_checkot") && strings.Contains(l, "breaker=prepared-typo")
	})
	time.Sleep(100 * time.Millisecond) // several more metadata syncs
	l := logs()
	for _, name := range []string{"breaker=checkout-erors", "router=rtr_checkot", "breaker=prepared-typo"} {
		if n := strings.Count(l, name); n != 1 {
			t.Errorf("%s reported %d times, want once", name, n)
		}
	}
	for _, name := range []string{"breaker=checkout-errors ", "router=rtr_checkout "} {
		if strings.Contains(l, name) {
			t.Errorf("a known name was reported: %s\n%s", name, l)
		}
	}
}

// deleteBreaker deletes a breaker of the fault project through the
// management API.
func deleteBreaker(t *testing.T, srv *localserver.Server, name string) {
	t.Helper()
	ac, err := admin.NewClient(faultAdmin, admin.WithBaseURL(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	list, err := ac.ListBreakers(context.Background(), faultProject, admin.ListBreakersParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range list.Breakers {
		if b.Name == name {
			if err := ac.DeleteBreaker(context.Background(), faultProject, b.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no breaker %q", name)
}
