// Package wraptest runs the end-to-end tests of the transport and
// interceptor wrappers: a local server with one router and one fast error
// rate breaker, and a client connected to it.
package wraptest

import (
	"context"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// The seeded router and breaker.
const (
	Router  = "rtr_dep"
	Breaker = "dep-errors"
	Metric  = "latency"
)

// Env is a local server and a client of its default project.
type Env struct {
	Server    *localserver.Server
	Client    *tripswitch.Client
	ProjectID string
}

// Start starts the server, seeds the breaker (error rate of Metric above
// 0.5 over 1s, at least 5 samples, evaluated every 50ms, 300ms cooldown,
// 200ms half-open confirmation) and connects a client that flushes every
// 20ms. Both stop with the test.
func Start(t testing.TB, opts ...tripswitch.Option) *Env {
	t.Helper()
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: Router, Name: "dependency"}},
		Breakers: []localserver.SeedBreaker{{
			Name: Breaker, Metric: Metric, Kind: "error_rate", Op: "gt", Threshold: 0.5,
			WindowMs: 1000, MinCount: 5, EvalIntervalMs: 50, CooldownMs: 300, HalfOpenConfirmationMs: 200,
			RouterIDs: []string{Router},
		}},
	})
	creds := srv.Credentials()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	base := []tripswitch.Option{
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
		tripswitch.WithFlushInterval(20 * time.Millisecond),
		tripswitch.WithMetadataSyncInterval(0),
	}
	c, err := tripswitch.NewClient(ctx, creds.ProjectID, append(base, opts...)...)
	if err != nil {
		t.Fatalf("wraptest: NewClient: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return &Env{Server: srv, Client: c, ProjectID: creds.ProjectID}
}

// State is the breaker's state as the client sees it.
func (e *Env) State() tripswitch.State {
	st, _ := e.Client.State(Breaker)
	return st.State
}

// Samples flushes the client and returns what the server received.
func (e *Env) Samples(t testing.TB) []localserver.Sample {
	t.Helper()
	if err := e.Client.Flush(context.Background()); err != nil {
		t.Fatalf("wraptest: Flush: %v", err)
	}
	return e.Server.Samples(e.ProjectID)
}

// Eventually polls cond until it holds, failing the test after a generous
// bound (this checks a condition, not a speed).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Connect is Start for runnable examples, which have no testing.TB: it
// starts a local server with router routerID feeding breaker, an error rate
// of "latency" above 0.5 over at least 10 samples, and connects a client
// with opts. It exits the program on failure; the caller shuts both down.
func Connect(routerID, breaker string, opts ...tripswitch.Option) (*localserver.Server, *tripswitch.Client) {
	srv, err := localserver.New(localserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	creds := srv.Credentials()
	err = srv.Seed(creds.ProjectID, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: routerID, Name: strings.TrimPrefix(routerID, "rtr_")}},
		Breakers: []localserver.SeedBreaker{{
			Name: breaker, Metric: Metric, Kind: "error_rate", Op: "gt", Threshold: 0.5,
			MinCount: 10, RouterIDs: []string{routerID},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	base := []tripswitch.Option{
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	}
	client, err := tripswitch.NewClient(context.Background(), creds.ProjectID, append(base, opts...)...)
	if err != nil {
		log.Fatal(err)
	}
	return srv, client
}
