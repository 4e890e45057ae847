package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/admin"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestRemoteServer checks the path docker compose takes: the server is
// named by TRIPSWITCH_* variables, the demo provisions it with the admin
// key, a restarted demo reuses what it created, and without the admin key
// it finds the router through the client's metadata.
func TestRemoteServer(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	env := map[string]string{
		"TRIPSWITCH_BASE_URL":      creds.BaseURL,
		"TRIPSWITCH_PROJECT_ID":    creds.ProjectID,
		"TRIPSWITCH_API_KEY":       creds.ProjectKey,
		"TRIPSWITCH_INGEST_SECRET": creds.IngestSecret,
		"TRIPSWITCH_ADMIN_KEY":     creds.AdminKey,
	}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	be, err := startBackend(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if be.Local != nil || be.Admin == nil {
		t.Fatalf("backend: local %v, admin %v; want the remote server with an admin client", be.Local, be.Admin)
	}
	if strings.Contains(be.describe(), creds.ProjectKey) || strings.Contains(be.describe(), creds.AdminKey) {
		t.Errorf("describe shows a key: %s", be.describe())
	}

	ctx := context.Background()
	// A breaker the demo does not own, which provisioning must leave alone.
	if _, err := be.Admin.CreateBreaker(ctx, creds.ProjectID, admin.CreateBreakerInput{
		Name: "inventory-errors", Metric: "latency", Kind: admin.KindErrorRate, Op: admin.OpGt, Threshold: 0.5,
	}); err != nil {
		t.Fatal(err)
	}
	specs := newSchedule(time.Minute).breakers()
	router1, ids1, err := be.provision(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	// A second run (a restarted container) reuses and updates them.
	specs[0].Threshold = 500
	router2, ids2, err := be.provision(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if router1 != router2 || ids1[breakerLatency] != ids2[breakerLatency] || ids1[breakerErrors] != ids2[breakerErrors] {
		t.Errorf("second provision: router %s→%s, breakers %v→%v; want the same objects", router1, router2, ids1, ids2)
	}
	var names []string
	for b, err := range be.Admin.ListBreakersAll(ctx, creds.ProjectID, admin.ListBreakersParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, b.Name)
		if b.Name == "inventory-errors" {
			continue
		}
		if !strings.Contains(strings.Join(b.RouterIDs, ","), router1) {
			t.Errorf("breaker %s not linked to router %s: %v", b.Name, router1, b.RouterIDs)
		}
		if b.Name == breakerLatency && b.Threshold != 500 {
			t.Errorf("breaker %s threshold %v after update, want 500", b.Name, b.Threshold)
		}
	}
	slices.Sort(names)
	if want := []string{"inventory-errors", breakerErrors, breakerLatency}; !slices.Equal(names, want) {
		t.Errorf("breakers after two provisions: %v, want exactly %v (the demo's and the one it does not own)", names, want)
	}
	if rs := collectRouters(t, be.Admin, creds.ProjectID); len(rs) != 1 {
		t.Errorf("routers after two provisions: %v, want one", rs)
	}

	// Without the admin key the router is looked up.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	client, err := tripswitch.NewClient(cctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	got, err := waitForRouter(ctx, client)
	if err != nil || got != router1 {
		t.Errorf("waitForRouter = %q, %v; want %q", got, err, router1)
	}
}

// TestLookupRouterNamesWhatIsMissing checks the message a user sees when
// the project has not been prepared and no admin key is given.
func TestLookupRouterNamesWhatIsMissing(t *testing.T) {
	srv := localservertest.Start(t)
	// A project with something else in it (NewClient waits for a first
	// breaker state, so the project cannot be empty).
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_other", Name: "other"}},
		Breakers: []localserver.SeedBreaker{{Name: "other", Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5,
			RouterIDs: []string{"rtr_other"}}},
	})
	creds := srv.Credentials()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	_, err = waitForRouter(ctx, client)
	if err == nil {
		t.Fatal("waitForRouter succeeded on an empty project")
	}
	for _, want := range []string{`router "payments"`, `breaker "payments-p95"`, `breaker "payments-errors"`, "TRIPSWITCH_ADMIN_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func collectRouters(t *testing.T, c *admin.Client, projectID string) []string {
	t.Helper()
	var out []string
	for r, err := range c.ListRoutersAll(context.Background(), projectID, admin.ListRoutersParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Name+"="+r.ID)
	}
	return out
}
