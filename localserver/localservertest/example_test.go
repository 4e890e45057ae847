package localservertest_test

import (
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func ExampleStart() {
	testCheckout := func(t *testing.T) {
		srv := localservertest.Start(t)
		localservertest.Seed(t, srv, localserver.Seed{
			Routers: []localserver.SeedRouter{{ID: "rtr_checkout", Name: "checkout"}},
			Breakers: []localserver.SeedBreaker{{
				Name: "checkout-errors", Metric: "requests", Kind: "error_rate", Op: "gt", Threshold: 0.5,
				RouterIDs: []string{"rtr_checkout"},
			}},
		})
		creds := srv.Credentials()
		// Point the code under test at creds.BaseURL with creds.ProjectID,
		// creds.ProjectKey and creds.IngestSecret, then inspect the server:
		_ = srv.Samples(creds.ProjectID)
		_ = srv.ForceState(creds.ProjectID, "checkout-errors", "open", 0)
	}
	_ = testCheckout
}

func ExampleWithClock() {
	testCooldown := func(t *testing.T) {
		clock := localservertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		srv := localservertest.Start(t, localservertest.WithClock(clock))
		// ... send failing samples stamped clock.Now() ...
		clock.Advance(time.Minute)
		srv.Evaluate() // evaluate at the new time, without waiting
	}
	_ = testCooldown
}
