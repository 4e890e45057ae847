package localserver_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

// extensionPaths are the local extension endpoints with a valid body each.
var extensionPaths = []struct{ suffix, body string }{
	{"/breakers/errors/state:force", `{"state":"open"}`},
	{"/breakers/errors/state:release", ``},
	{"/breakers/errors/window:reset", ``},
}

func TestExtensionAuth(t *testing.T) {
	srv, _ := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	for _, ep := range extensionPaths {
		for _, tt := range []struct {
			name, key string
			want      int
		}{
			{"no key", "", http.StatusUnauthorized},
			{"unknown key", "eb_admin_nope", http.StatusUnauthorized},
			{"project key", c.ProjectKey, http.StatusForbidden},
			{"admin key", c.AdminKey, http.StatusOK},
		} {
			t.Run(ep.suffix+"/"+tt.name, func(t *testing.T) {
				r := call(t, http.MethodPost, projectURL(srv, ep.suffix), tt.key, ep.body)
				wantStatus(t, r, tt.want)
				if r.Header.Get(localserver.ExtensionHeader) != "1" {
					t.Fatalf("%s header = %q, want 1", localserver.ExtensionHeader, r.Header.Get(localserver.ExtensionHeader))
				}
			})
		}
		t.Run(ep.suffix+"/GET", func(t *testing.T) {
			wantStatus(t, call(t, http.MethodGet, projectURL(srv, ep.suffix), c.AdminKey, nil), http.StatusMethodNotAllowed)
		})
	}
	r := call(t, http.MethodPost, c.BaseURL+"/v1/projects/proj_nope/breakers/errors/state:release", c.AdminKey, nil)
	wantStatus(t, r, http.StatusNotFound)
	r = call(t, http.MethodPost, projectURL(srv, "/breakers/nope/window:reset"), c.AdminKey, nil)
	wantStatus(t, r, http.StatusNotFound)
}

func TestForceValidation(t *testing.T) {
	srv, _ := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	for _, tt := range []struct {
		body, field string
	}{
		{`{}`, "state"},
		{`{"state":"ajar"}`, "state"},
		{`{"state":"half_open"}`, "allow_rate"},
		{`{"state":"half_open","allow_rate":1.5}`, "allow_rate"},
		{`{"state":"half_open","allow_rate":-0.1}`, "allow_rate"},
		{`{"state":"open","allow_rate":0.5}`, "allow_rate"},
		{`{"state":3}`, "state"},
	} {
		t.Run(tt.body, func(t *testing.T) {
			r := call(t, http.MethodPost, projectURL(srv, "/breakers/errors/state:force"), c.AdminKey, tt.body)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if f := r.json(t)["field"]; f != tt.field {
				t.Fatalf("field = %v, want %s: %s", f, tt.field, r.Body)
			}
		})
	}
	wantStatus(t, call(t, http.MethodPost, projectURL(srv, "/breakers/errors/state:force"), c.AdminKey, ""), http.StatusBadRequest)
	if st, _, _ := srv.BreakerState(c.ProjectID, "errors"); st != "closed" {
		t.Fatalf("state after rejected requests = %s, want closed", st)
	}
}

// A forced state holds whatever the samples say until it is released;
// then the breaker is evaluated again.
func TestForceHoldsUntilRelease(t *testing.T) {
	srv, clock := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	st.next() // snapshot

	r := call(t, http.MethodPost, projectURL(srv, "/breakers/errors/state:force"), c.AdminKey, `{"state":"closed"}`)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["state"] != "closed" || m["held"] != true || m["allow_rate"] != 1.0 {
		t.Fatalf("force answer = %s, want closed, held, allow_rate 1", r.Body)
	}
	if e := st.next(); e["state"] != "closed" {
		t.Fatalf("stream event after force = %v, want closed", e)
	}

	wantStatus(t, ingest(t, srv, clock.Now(), failing(10, "rtr_a", "req", clock.Now())...), http.StatusAccepted)
	for range 5 {
		clock.Advance(time.Second)
		srv.Evaluate()
	}
	if s, _, _ := srv.BreakerState(c.ProjectID, "errors"); s != "closed" {
		t.Fatalf("held breaker is %s after failing samples, want closed", s)
	}

	r = call(t, http.MethodPost, projectURL(srv, "/breakers/errors/state:release"), c.AdminKey, nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["held"] != false {
		t.Fatalf("release answer = %s, want held false", r.Body)
	}
	srv.Evaluate()
	if s, _, _ := srv.BreakerState(c.ProjectID, "errors"); s != "open" {
		t.Fatalf("released breaker is %s with 10 failures in its window, want open", s)
	}
	if e := st.next(); e["state"] != "open" {
		t.Fatalf("stream event after release = %v, want open", e)
	}

	// Forced open outlasts its cooldown while held.
	wantStatus(t, call(t, http.MethodPost, projectURL(srv, "/breakers/errors/state:force"), c.AdminKey,
		`{"state":"half_open","allow_rate":0.25}`), http.StatusOK)
	if s, rate, _ := srv.BreakerState(c.ProjectID, "errors"); s != "half_open" || rate != 0.25 {
		t.Fatalf("state = %s %v, want half_open 0.25", s, rate)
	}
	r = call(t, http.MethodGet, projectURL(srv, "/events?breaker_id=errors"), c.AdminKey, nil)
	evs := r.json(t)["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	if last["to_state"] != "half_open" || last["reason"] != "forced to half_open, held until released" {
		t.Fatalf("last event = %v, want the forced half_open", last)
	}
}

func TestWindowReset(t *testing.T) {
	srv, clock := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	wantStatus(t, ingest(t, srv, clock.Now(), failing(10, "rtr_a", "req", clock.Now())...), http.StatusAccepted)
	if _, n, _ := srv.Aggregate(c.ProjectID, "errors"); n != 10 {
		t.Fatalf("window holds %d samples, want 10", n)
	}
	wantStatus(t, call(t, http.MethodPost, projectURL(srv, "/breakers/errors/window:reset"), c.AdminKey, nil), http.StatusOK)
	if _, n, _ := srv.Aggregate(c.ProjectID, "errors"); n != 0 {
		t.Fatalf("window holds %d samples after reset, want 0", n)
	}
	clock.Advance(time.Second)
	srv.Evaluate()
	if s, _, _ := srv.BreakerState(c.ProjectID, "errors"); s != "closed" {
		t.Fatalf("state after reset = %s, want closed", s)
	}
}

func TestHoldStateGo(t *testing.T) {
	srv, clock := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	if err := srv.HoldState(c.ProjectID, "errors", "open", 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // well past the 5 s cooldown
	srv.Evaluate()
	if s, _, _ := srv.BreakerState(c.ProjectID, "errors"); s != "open" {
		t.Fatalf("held open breaker is %s after its cooldown, want open", s)
	}
	if err := srv.ReleaseState(c.ProjectID, "errors"); err != nil {
		t.Fatal(err)
	}
	srv.Evaluate()
	if s, _, _ := srv.BreakerState(c.ProjectID, "errors"); s != "half_open" {
		t.Fatalf("released breaker is %s after its cooldown, want half_open", s)
	}
	if err := srv.HoldState(c.ProjectID, "errors", "shut", 0); err == nil {
		t.Fatal("HoldState accepted state \"shut\"")
	}
	if err := srv.ResetWindow(c.ProjectID, "nope"); !errors.Is(err, localserver.ErrNotFound) {
		t.Fatalf("ResetWindow of an unknown breaker = %v, want ErrNotFound", err)
	}
	if err := srv.ReleaseState(c.ProjectID, "errors"); err != nil {
		t.Fatalf("releasing a breaker that is not held: %v", err)
	}
}
