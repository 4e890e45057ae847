package localserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func TestConsolePage(t *testing.T) {
	srv, _ := start(t)
	base := srv.Credentials().BaseURL
	for _, tt := range []struct{ path, ctype string }{
		{"/", "text/html; charset=utf-8"},
		{"/console/console.js", "text/javascript; charset=utf-8"},
		{"/console/console.css", "text/css; charset=utf-8"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := call(t, http.MethodGet, base+tt.path, "", nil)
			wantStatus(t, r, http.StatusOK)
			if got := r.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "form-action 'none'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows inline code", csp)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("X-Content-Type-Options is not nosniff")
			}
		})
	}

	page := string(call(t, http.MethodGet, base+"/", "", nil).Body)
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, ` src="/console/`) {
			t.Errorf("page has an inline script: %s", tag)
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=|style=`).MatchString(page) {
		t.Error("page has an inline event handler or style attribute")
	}
	if regexp.MustCompile(`<input[^>]*\sname=`).MatchString(page) {
		t.Error("the key input has a name: a form submitted without the script would put it in a URL")
	}

	for _, path := range []string{"/console/", "/console/nope.js", "/console/..%2fconsole.go", "/index.html"} {
		if r := call(t, http.MethodGet, base+path, "", nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.Status)
		}
	}
	wantStatus(t, call(t, http.MethodPost, base+"/", "", nil), http.StatusMethodNotAllowed)
}

// consoleEvent is one event of a console stream.
type consoleEvent struct {
	name string
	data json.RawMessage
}

// openConsole connects to the console stream of the default project.
func openConsole(t *testing.T, srv *localserver.Server, key string) (<-chan consoleEvent, *http.Response) {
	t.Helper()
	c := srv.Credentials()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/console/api/projects/"+c.ProjectID+"/live", nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	events := make(chan consoleEvent, 64)
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	if resp.StatusCode != http.StatusOK {
		close(done)
		return nil, resp
	}
	go func() {
		defer close(done)
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev consoleEvent
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				ev.data = json.RawMessage(v)
			} else if line == "" && ev.name != "" {
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
				ev = consoleEvent{}
			}
		}
	}()
	return events, resp
}

// nextConsole returns the next event named name, skipping others.
func nextConsole(t *testing.T, events <-chan consoleEvent, name string, v any) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("console stream ended while waiting for %q", name)
			}
			if ev.name != name {
				continue
			}
			if err := json.Unmarshal(ev.data, v); err != nil {
				t.Fatalf("%s event: %v: %s", name, err, ev.data)
			}
			return
		case <-timeout:
			t.Fatalf("no %q event on the console stream", name)
		}
	}
}

func TestConsoleLiveAuth(t *testing.T) {
	srv, _ := start(t)
	c := srv.Credentials()
	for _, tt := range []struct {
		name, key string
		want      int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"unknown key", "eb_admin_nope", http.StatusUnauthorized},
		{"project key", c.ProjectKey, http.StatusForbidden},
		{"admin key", c.AdminKey, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, resp := openConsole(t, srv, tt.key)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if resp.Header.Get(localserver.ExtensionHeader) != "1" {
				t.Fatalf("%s header missing", localserver.ExtensionHeader)
			}
			if tt.want != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				if strings.Contains(string(b), c.AdminKey) || strings.Contains(string(b), c.ProjectKey) {
					t.Fatalf("error body echoes a key: %s", b)
				}
			}
		})
	}
	r := call(t, http.MethodGet, c.BaseURL+"/console/api/projects/proj_nope/live", c.AdminKey, nil)
	wantStatus(t, r, http.StatusNotFound)
}

type consoleSnapshotDoc struct {
	ProjectID string `json:"project_id"`
	Breakers  []struct {
		ID, Name, State string
		Threshold       float64
		RouterIDs       []string `json:"router_ids"`
	} `json:"breakers"`
	Routers []struct{ ID, Name string } `json:"routers"`
	Events  []struct {
		BreakerName string `json:"breaker_name"`
		ToState     string `json:"to_state"`
		Reason      string `json:"reason"`
	} `json:"events"`
	History map[string][][3]float64 `json:"history"`
}

func TestConsoleLiveStream(t *testing.T) {
	srv, clock := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	// Failures spread over the last few seconds appear in the history.
	for i := range 4 {
		at := clock.Now().Add(time.Duration(i-4) * time.Second)
		wantStatus(t, ingest(t, srv, clock.Now(), failing(2, "rtr_a", "req", at)...), http.StatusAccepted)
	}

	events, _ := openConsole(t, srv, c.AdminKey)
	var snap consoleSnapshotDoc
	nextConsole(t, events, "snapshot", &snap)
	if snap.ProjectID != c.ProjectID || len(snap.Breakers) != 1 || snap.Breakers[0].Name != "errors" ||
		snap.Breakers[0].State != "closed" || snap.Breakers[0].RouterIDs[0] != "rtr_a" || len(snap.Routers) != 2 {
		t.Fatalf("snapshot = %+v, want the seeded breaker closed and two routers", snap)
	}
	h := snap.History[snap.Breakers[0].ID]
	if len(h) == 0 || h[len(h)-1][1] != 1 || h[len(h)-1][2] != 8 {
		t.Fatalf("history = %v, want a last point of error rate 1 over 8 samples", h)
	}

	clock.Advance(time.Second)
	srv.Evaluate()
	var st struct{ Breaker, State string }
	nextConsole(t, events, "state", &st)
	if st.Breaker != "errors" || st.State != "open" {
		t.Fatalf("state event = %+v, want errors open", st)
	}
	var evs []struct {
		BreakerName string `json:"breaker_name"`
		FromState   string `json:"from_state"`
		ToState     string `json:"to_state"`
		Reason      string `json:"reason"`
	}
	nextConsole(t, events, "events", &evs)
	if len(evs) != 1 || evs[0].ToState != "open" || evs[0].FromState != "closed" || !strings.Contains(evs[0].Reason, "> 0.5") {
		t.Fatalf("events = %+v, want one closed→open with its reason", evs)
	}

	var m struct {
		Points map[string][3]float64 `json:"points"`
		Held   []string              `json:"held"`
		Rates  []struct {
			RouterID  string  `json:"router_id"`
			Metric    string  `json:"metric"`
			PerSecond float64 `json:"per_second"`
		} `json:"rates"`
	}
	nextConsole(t, events, "metrics", &m)
	if len(m.Held) != 0 {
		t.Fatalf("held = %v before any force, want none", m.Held)
	}
	p, ok := m.Points[snap.Breakers[0].ID]
	if !ok || p[1] != 1 || p[2] != 8 {
		t.Fatalf("metrics points = %v, want error rate 1 over 8 samples", m.Points)
	}
	// The clock moved by 1 s: the pairs sent 4, 3 and 2 s earlier are within
	// the 5 s rate window, the one sent 5 s earlier is not: 1.2 per second.
	if len(m.Rates) != 1 || m.Rates[0].RouterID != "rtr_a" || m.Rates[0].Metric != "req" || m.Rates[0].PerSecond != 1.2 {
		t.Fatalf("rates = %+v, want rtr_a req 1.2/s", m.Rates)
	}

	// A hold shows in the next metrics; a release by another client too.
	if err := srv.HoldState(c.ProjectID, "errors", "closed", 0); err != nil {
		t.Fatal(err)
	}
	// A metrics event computed just before the call may still be on its way:
	// the next two are looked at.
	heldIs := func(want ...string) bool {
		for range 2 {
			nextConsole(t, events, "metrics", &m)
			if slices.Equal(m.Held, want) {
				return true
			}
		}
		return false
	}
	if !heldIs(snap.Breakers[0].ID) {
		t.Fatalf("held = %v after HoldState, want [%s]", m.Held, snap.Breakers[0].ID)
	}
	if err := srv.ReleaseState(c.ProjectID, "errors"); err != nil {
		t.Fatal(err)
	}
	if !heldIs() {
		t.Fatalf("held = %v after ReleaseState, want none", m.Held)
	}

	// A new breaker sends a fresh snapshot.
	localservertest.Seed(t, srv, localserver.Seed{Breakers: []localserver.SeedBreaker{{
		Name: "latency", Metric: "req", Kind: "p95", Op: "gt", Threshold: 300, RouterIDs: []string{"rtr_b"}}}})
	nextConsole(t, events, "snapshot", &snap)
	if len(snap.Breakers) != 2 || snap.Events[0].ToState != "open" {
		t.Fatalf("snapshot after seeding = %+v, want two breakers and the open event first", snap)
	}
}
