package localserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
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
