package localserver_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestEndToEndWithRuntimeClient drives a breaker through its whole life with
// the project's runtime client: failing calls open it, the client sees that
// over the state stream and rejects calls, after the cooldown it is
// half-open with a partial allow rate, and successful calls close it.
func TestEndToEndWithRuntimeClient(t *testing.T) {
	srv := localservertest.Start(t, localservertest.WithEvalTick(10*time.Millisecond))
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_e2e", Name: "e2e"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "e2e-errors", Metric: "requests", Kind: "error_rate", Op: "gt", Threshold: 0.5,
			WindowMs: 1_500, MinCount: 5, CooldownMs: 1_000, EvalIntervalMs: 50, HalfOpenConfirmationMs: 300,
			RouterIDs: []string{"rtr_e2e"},
		}},
	})
	creds := srv.Credentials()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
		tripswitch.WithFlushInterval(20*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer client.Close(context.Background())
	if st, ok := client.State("e2e-errors"); !ok || st.State != tripswitch.StateClosed {
		t.Fatalf("initial state %+v, %v", st, ok)
	}

	boom := errors.New("boom")
	call := func(fail bool) error {
		_, err := tripswitch.Execute(client, context.Background(), func() (int, error) {
			if fail {
				return 0, boom
			}
			return 1, nil
		}, tripswitch.WithBreakers("e2e-errors"), tripswitch.WithRouter("rtr_e2e"), tripswitch.WithMetric("requests", 1))
		return err
	}

	// Failing samples open the breaker.
	for range 20 {
		if err := call(true); !errors.Is(err, boom) {
			t.Fatalf("call while closed: %v", err)
		}
	}
	must(t, client.Flush(ctx))
	waitFor(t, "the client to see the breaker open", func() bool {
		st, _ := client.State("e2e-errors")
		return st.State == tripswitch.StateOpen
	})
	if err := call(false); !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("call while open: %v, want a rejection", err)
	}
	var be *tripswitch.BreakerError
	if err := call(false); !errors.As(err, &be) || be.Reason != tripswitch.ReasonOpen || be.Breaker != "e2e-errors" {
		t.Fatalf("rejection %v", err)
	}

	// After the cooldown: half-open with a partial allow rate; some calls
	// are throttled, the others run and report successes.
	waitFor(t, "the client to see the breaker half-open", func() bool {
		st, _ := client.State("e2e-errors")
		return st.State == tripswitch.StateHalfOpen
	})
	st, _ := client.State("e2e-errors")
	if st.AllowRate <= 0 || st.AllowRate >= 1 {
		t.Fatalf("half-open allow rate %v, want within (0, 1)", st.AllowRate)
	}
	allowed, throttled := 0, 0
	closed := false
	deadline := time.Now().Add(20 * time.Second)
	for !closed {
		if time.Now().After(deadline) {
			t.Fatalf("breaker did not close; %d allowed, %d throttled", allowed, throttled)
		}
		for range 20 {
			err := call(false)
			switch {
			case err == nil:
				allowed++
			case errors.As(err, &be) && be.Reason == tripswitch.ReasonThrottled:
				throttled++
			case errors.As(err, &be) && be.Reason == tripswitch.ReasonOpen:
			default:
				t.Fatalf("call while half-open: %v", err)
			}
		}
		must(t, client.Flush(ctx))
		time.Sleep(20 * time.Millisecond)
		s, _ := client.State("e2e-errors")
		closed = s.State == tripswitch.StateClosed
	}
	if allowed == 0 || throttled == 0 {
		t.Fatalf("half-open let %d calls through and throttled %d; want some of each", allowed, throttled)
	}
	if err := call(false); err != nil {
		t.Fatalf("call after recovery: %v", err)
	}

	// The server recorded every transition with a reason.
	r := callHTTP(t, http.MethodGet, projectURL(srv, "/events?breaker_id=e2e-errors"), creds.AdminKey)
	var path []string
	for _, e := range r.json(t)["events"].([]any) {
		ev := e.(map[string]any)
		if ev["reason"] == "" {
			t.Fatalf("event without a reason: %v", ev)
		}
		path = append(path, ev["to_state"].(string))
	}
	if len(path) < 3 || path[0] != "open" || path[1] != "half_open" || path[len(path)-1] != "closed" {
		t.Fatalf("transitions %v, want open, half_open, …, closed", path)
	}
}

func callHTTP(t testing.TB, method, url, key string) response { return call(t, method, url, key, nil) }
