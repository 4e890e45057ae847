package localservertest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func get(t *testing.T, url, key string) (int, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestStartServesAndStopsAfterTheTest(t *testing.T) {
	var creds localserver.Credentials
	t.Run("inner", func(t *testing.T) {
		srv := localservertest.Start(t, func(c *localserver.Config) { c.ProjectID = "proj_fixed" })
		creds = srv.Credentials()
		if creds.ProjectID != "proj_fixed" || creds.BaseURL == "" || creds.ProjectKey == "" || creds.AdminKey == "" || len(creds.IngestSecret) != 64 {
			t.Fatalf("credentials %v", creds)
		}
		status, err := get(t, creds.BaseURL+"/v1/projects/proj_fixed/status", creds.ProjectKey)
		if err != nil || status != 200 {
			t.Fatalf("status %d, %v", status, err)
		}
	})
	http.DefaultClient.CloseIdleConnections()
	if _, err := get(t, creds.BaseURL+"/v1/projects/proj_fixed/status", creds.ProjectKey); err == nil {
		t.Fatal("server still answers after its test ended")
	}
}

func TestSeedAndClock(t *testing.T) {
	clock := localservertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := localservertest.Start(t, localservertest.WithClock(clock))
	localservertest.Seed(t, srv, localserver.Seed{Breakers: []localserver.SeedBreaker{
		{Name: "b", Metric: "m", Kind: "count", Op: "gt", Threshold: 1, CooldownMs: 1000},
	}})
	pid := srv.Credentials().ProjectID
	if err := srv.ForceState(pid, "b", "open", 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(999 * time.Millisecond)
	srv.Evaluate()
	if s, _, _ := srv.BreakerState(pid, "b"); s != "open" {
		t.Fatalf("state %s before the cooldown ended", s)
	}
	if got := clock.Advance(time.Millisecond); !got.Equal(time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)) {
		t.Fatalf("Advance returned %v", got)
	}
	srv.Evaluate()
	if s, rate, _ := srv.BreakerState(pid, "b"); s != "half_open" || rate != 0.5 {
		t.Fatalf("state %s %v after the cooldown, want half_open 0.5", s, rate)
	}
	clock.Set(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if clock.Now().Year() != 2030 {
		t.Fatal("Set did not move the clock")
	}
}
