package localserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func TestGoAPIErrorsAndHelpers(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	for _, err := range []error{
		srv.ForceState("proj_missing", "x", "open", 0),
		srv.ForceState(c.ProjectID, "missing", "open", 0),
		srv.Seed("proj_missing", localserver.Seed{}),
	} {
		if !errors.Is(err, localserver.ErrNotFound) {
			t.Errorf("error %v does not match ErrNotFound", err)
		}
	}
	if _, _, err := srv.Aggregate(c.ProjectID, "missing"); !errors.Is(err, localserver.ErrNotFound) {
		t.Errorf("Aggregate: %v", err)
	}
	if srv.Samples("proj_missing") != nil {
		t.Error("Samples of an unknown project is not nil")
	}
	key, err := srv.NewProjectKey(c.ProjectID, "ci")
	must(t, err)
	wantStatus(t, call(t, "GET", projectURL(srv, "/status"), key, nil), 200)
	if _, err := srv.NewProjectKey("proj_missing", ""); err == nil {
		t.Error("NewProjectKey for an unknown project succeeded")
	}
	if _, err := srv.IngestSecret("proj_missing"); err == nil {
		t.Error("IngestSecret for an unknown project succeeded")
	}
}

func TestSeedTwiceUpdatesInPlace(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	localservertest.Seed(t, srv, errorRateSeed)
	must(t, srv.ForceState(c.ProjectID, "errors", "open", 0))
	changed := errorRateSeed
	changed.Breakers = []localserver.SeedBreaker{errorRateSeed.Breakers[0]}
	changed.Breakers[0].Threshold = 0.9
	localservertest.Seed(t, srv, changed)
	r := call(t, "GET", projectURL(srv, "/breakers"), c.AdminKey, nil).json(t)
	if r["count"] != 1.0 || r["breakers"].([]any)[0].(map[string]any)["threshold"] != 0.9 {
		t.Fatalf("breakers after a second seed: %v", r)
	}
	if n := len(call(t, "GET", projectURL(srv, "/routers"), c.AdminKey, nil).json(t)["routers"].([]any)); n != 2 {
		t.Fatalf("%d routers after a second seed, want 2", n)
	}
	if s, _, _ := srv.BreakerState(c.ProjectID, "errors"); s != "open" {
		t.Fatalf("reseeding reset the state to %s", s)
	}
	bad := localserver.Seed{Breakers: []localserver.SeedBreaker{{Name: "x", Metric: "m", Kind: "count", Op: "gt", RouterIDs: []string{"rtr_nope"}}}}
	if err := srv.Seed(c.ProjectID, bad); err == nil {
		t.Fatal("seed with an unknown router succeeded")
	}
}

func TestSampleLimitKeepsTheMostRecent(t *testing.T) {
	srv, clock := start(t, func(c *localserver.Config) { c.SampleLimit = 5 })
	c := srv.Credentials()
	var batch []localserver.Sample
	for i := range 12 {
		batch = append(batch, localserver.Sample{RouterID: "r", Metric: "m", TsMs: clock.Now().UnixMilli() - int64(12-i), Value: float64(i)})
	}
	wantStatus(t, ingest(t, srv, clock.Now(), batch...), 202)
	got := srv.Samples(c.ProjectID)
	if fmt.Sprint(got) != fmt.Sprint(batch[7:]) {
		t.Fatalf("samples %v, want the last five", got)
	}
}

// Handler can be mounted on any server, without Start.
func TestHandlerWithoutStart(t *testing.T) {
	srv, err := localserver.New(localserver.Config{})
	must(t, err)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	c := srv.Credentials()
	if c.BaseURL != "" {
		t.Fatalf("BaseURL %q before Start", c.BaseURL)
	}
	wantStatus(t, call(t, "GET", ts.URL+"/v1/projects/"+c.ProjectID+"/status", c.ProjectKey, nil), 200)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, srv.Shutdown(ctx))
	// Streams are refused once the server is shut down.
	wantStatus(t, call(t, "GET", ts.URL+"/v1/projects/"+c.ProjectID+"/breakers/state:stream", c.ProjectKey, nil), 503)
}

func TestSampleMemoryIsBoundedInBytes(t *testing.T) {
	const budget = 256 << 10
	srv, clock := start(t, func(c *localserver.Config) { c.SampleBytes = budget })
	c := srv.Credentials()
	tags := func(i int) map[string]string {
		m := make(map[string]string, 32)
		for j := range 32 {
			m[fmt.Sprintf("%03d-%03d-", i, j)+strings.Repeat("k", 120)] = strings.Repeat("v", 256)
		}
		return m
	}
	const n = 100 // about 1.2 MiB of tags in all
	for i := range n {
		s := localserver.Sample{RouterID: "r", Metric: "m", TsMs: clock.Now().UnixMilli(), Value: float64(i), Tags: tags(i)}
		wantStatus(t, ingest(t, srv, clock.Now(), s), http.StatusAccepted)
	}
	got := srv.Samples(c.ProjectID)
	var held int
	for _, s := range got {
		for k, v := range s.Tags {
			held += len(k) + len(v)
		}
	}
	if held > budget || len(got) == 0 || len(got) == n {
		t.Fatalf("%d of %d samples kept holding %d bytes of tags; want at most %d bytes", len(got), n, held, budget)
	}
	for i, s := range got { // the most recent are kept, in order
		if want := float64(n - len(got) + i); s.Value != want {
			t.Fatalf("sample %d has value %v, want %v", i, s.Value, want)
		}
	}
}

// A seed that names a router twice links the breaker once, so that each
// sample is counted once.
func TestSeedRepeatedRouterLinksOnce(t *testing.T) {
	srv, clock := start(t)
	c := srv.Credentials()
	localservertest.Seed(t, srv, localserver.Seed{
		Routers:  []localserver.SeedRouter{{ID: "rtr_a", Name: "a"}},
		Breakers: []localserver.SeedBreaker{{Name: "n", Metric: "m", Kind: "count", Op: "gt", Threshold: 100, RouterIDs: []string{"rtr_a", "rtr_a"}}},
	})
	b := call(t, "GET", projectURL(srv, "/breakers/n"), c.AdminKey, nil).json(t)["breaker"].(map[string]any)
	if ids := fmt.Sprint(b["router_ids"]); ids != "[rtr_a]" {
		t.Errorf("router_ids = %s, want [rtr_a]", ids)
	}
	wantStatus(t, ingest(t, srv, clock.Now(), localserver.Sample{RouterID: "rtr_a", Metric: "m", TsMs: clock.Now().UnixMilli(), OK: true}), 202)
	if _, n, err := srv.Aggregate(c.ProjectID, "n"); err != nil || n != 1 {
		t.Errorf("Aggregate counts %d samples (%v), want 1", n, err)
	}
}

// Two items of a sync or a seed that describe one breaker are refused, and
// nothing changes: before, the second silently replaced the first.
func TestPlanRefusesTwoItemsForOneBreaker(t *testing.T) {
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	item := func(id, name string) string {
		s := `{"name":"` + name + `","metric":"m","kind":"max","op":"gt","threshold":1`
		if id != "" {
			s += `,"id":"` + id + `"`
		}
		return s + "}"
	}
	for _, tt := range []struct {
		name, body, field string
	}{
		{"new ID twice", "[" + item("brk_x", "a") + "," + item("brk_x", "b") + "]", "breakers[1].id"},
		{"existing matched by ID and by name", "[" + item("", "errors") + "," + item(errorRateID(t, srv), "renamed") + "]", "breakers[1].name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "PUT", projectURL(srv, "/breakers"), c.AdminKey, tt.body)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if f := r.json(t)["field"]; f != tt.field {
				t.Errorf("field %v, want %q", f, tt.field)
			}
			list := call(t, "GET", projectURL(srv, "/breakers"), c.AdminKey, nil).json(t)
			if list["count"] != 1.0 || list["breakers"].([]any)[0].(map[string]any)["name"] != "errors" {
				t.Errorf("breakers changed by a refused sync: %v", list)
			}
		})
	}
	seed := localserver.Seed{Breakers: []localserver.SeedBreaker{
		{ID: "brk_s", Name: "s1", Metric: "m", Kind: "max", Op: "gt"},
		{ID: "brk_s", Name: "s2", Metric: "m", Kind: "max", Op: "gt"},
	}}
	if err := srv.Seed(c.ProjectID, seed); err == nil || !strings.Contains(err.Error(), "breakers[1].id") {
		t.Errorf("seed naming one ID twice: %v, want an error naming breakers[1].id", err)
	}
}

func errorRateID(t *testing.T, srv *localserver.Server) string {
	t.Helper()
	b := call(t, "GET", projectURL(srv, "/breakers/errors"), srv.Credentials().AdminKey, nil).json(t)["breaker"].(map[string]any)
	return b["id"].(string)
}
