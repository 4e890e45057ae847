package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/admin"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// startLocal starts a local server and returns it with an admin client for it.
func startLocal(t *testing.T, opts ...func(*localserver.Config)) (*localserver.Server, *admin.Client) {
	t.Helper()
	srv := localservertest.Start(t, opts...)
	creds := srv.Credentials()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := admin.NewClient(creds.AdminKey, admin.WithBaseURL(creds.BaseURL), admin.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func bare(c *localserver.Config) { c.BareResponses = true }

// shapes runs fn against a server answering the wrapped shapes and one
// answering the bare shapes.
func shapes(t *testing.T, fn func(t *testing.T, srv *localserver.Server, c *admin.Client)) {
	t.Run("wrapped", func(t *testing.T) {
		srv, c := startLocal(t)
		fn(t, srv, c)
	})
	t.Run("bare", func(t *testing.T) {
		srv, c := startLocal(t, bare)
		fn(t, srv, c)
	})
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestE2EWorkspaces(t *testing.T) {
	srv, c := startLocal(t)
	ctx := context.Background()

	all := must[[]admin.Workspace](t)(c.ListWorkspaces(ctx))
	if !slices.ContainsFunc(all, func(w admin.Workspace) bool { return w.ID == srv.Credentials().WorkspaceID }) {
		t.Errorf("default workspace missing from %+v", all)
	}
	ws := must[*admin.Workspace](t)(c.CreateWorkspace(ctx, admin.CreateWorkspaceInput{Name: "acme", Slug: "acme"}))
	if ws.ID == "" || ws.Name != "acme" || ws.Slug != "acme" || ws.InsertedAt.IsZero() {
		t.Errorf("created %+v", ws)
	}
	got := must[*admin.Workspace](t)(c.GetWorkspace(ctx, ws.ID))
	if got.ID != ws.ID || got.Name != "acme" || !got.InsertedAt.Equal(ws.InsertedAt) {
		t.Errorf("read back %+v, want %+v", got, ws)
	}
	upd := must[*admin.Workspace](t)(c.UpdateWorkspace(ctx, ws.ID, admin.UpdateWorkspaceInput{Name: admin.Ptr("acme-corp")}))
	if upd.Name != "acme-corp" || upd.Slug != "acme" {
		t.Errorf("updated %+v, want new name and unchanged slug", upd)
	}
	all = must[[]admin.Workspace](t)(c.ListWorkspaces(ctx))
	if !slices.ContainsFunc(all, func(w admin.Workspace) bool { return w.ID == ws.ID && w.Name == "acme-corp" }) {
		t.Errorf("list %+v lacks the renamed workspace", all)
	}
	if err := c.DeleteWorkspace(ctx, ws.ID, "acme"); !errors.Is(err, admin.ErrNameMismatch) {
		t.Fatalf("delete with the old name: %v, want ErrNameMismatch", err)
	}
	if _, err := c.GetWorkspace(ctx, ws.ID); err != nil {
		t.Fatalf("workspace gone after a refused delete: %v", err)
	}
	if err := c.DeleteWorkspace(ctx, ws.ID, "acme-corp"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWorkspace(ctx, ws.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
}

func TestE2EProjectsAndKeys(t *testing.T) {
	srv, c := startLocal(t)
	ctx := context.Background()
	ws := must[*admin.Workspace](t)(c.CreateWorkspace(ctx, admin.CreateWorkspaceInput{Name: "payments", Slug: "payments"}))

	p := must[*admin.Project](t)(c.CreateProject(ctx, admin.CreateProjectInput{Name: "prod-payments", WorkspaceID: ws.ID}))
	if p.ID == "" || p.Name != "prod-payments" || p.WorkspaceID != ws.ID {
		t.Errorf("created %+v", p)
	}
	got := must[*admin.Project](t)(c.GetProject(ctx, p.ID))
	if *got != *p {
		t.Errorf("read back %+v, want %+v", got, p)
	}
	upd := must[*admin.Project](t)(c.UpdateProject(ctx, p.ID, admin.UpdateProjectInput{
		SlackWebhookURL: admin.Ptr("https://hooks.slack.example/T1"), EnableSignedIngest: admin.Ptr(true),
	}))
	if upd.Name != "prod-payments" || upd.SlackWebhookURL != "https://hooks.slack.example/T1" || !upd.EnableSignedIngest {
		t.Errorf("updated %+v", upd)
	}
	upd = must[*admin.Project](t)(c.UpdateProject(ctx, p.ID, admin.UpdateProjectInput{EnableSignedIngest: admin.Ptr(false)}))
	if upd.EnableSignedIngest || upd.SlackWebhookURL == "" {
		t.Errorf("setting false changed other fields or was ignored: %+v", upd)
	}
	inWS := must[*admin.ProjectList](t)(c.ListProjects(ctx, admin.ListProjectsParams{WorkspaceID: ws.ID}))
	if inWS.Count != 1 || len(inWS.Projects) != 1 || inWS.Projects[0].ID != p.ID {
		t.Errorf("workspace filter gave %+v", inWS)
	}
	every := must[*admin.ProjectList](t)(c.ListProjects(ctx, admin.ListProjectsParams{}))
	ids := []string{}
	for _, pr := range every.Projects {
		ids = append(ids, pr.ID)
	}
	if !slices.Contains(ids, p.ID) || !slices.Contains(ids, srv.Credentials().ProjectID) {
		t.Errorf("all projects %v lack the new or the default one", ids)
	}

	// Project keys: the created key works until it is deleted.
	k := must[*admin.CreatedProjectKey](t)(c.CreateProjectKey(ctx, p.ID, admin.CreateProjectKeyInput{Name: "ci"}))
	if !strings.HasPrefix(k.Key, "eb_pk_") || !strings.HasPrefix(k.Key, k.KeyPrefix) || k.Name != "ci" || k.ID == "" {
		t.Errorf("created key %v", k)
	}
	if code := statusWithKey(t, srv.URL(), p.ID, k.Key); code != http.StatusOK {
		t.Errorf("status with the new key: %d", code)
	}
	keys := must[*admin.ProjectKeyList](t)(c.ListProjectKeys(ctx, p.ID))
	i := slices.IndexFunc(keys.Keys, func(x admin.ProjectKey) bool { return x.ID == k.ID })
	if i < 0 || keys.Keys[i].KeyPrefix != k.KeyPrefix || keys.Keys[i].InsertedAt.IsZero() || keys.Count != len(keys.Keys) {
		t.Fatalf("key list %+v", keys)
	}
	if keys.Keys[i].LastUsedAt.IsZero() {
		t.Errorf("key used for a status call has no LastUsedAt")
	}
	if err := c.DeleteProjectKey(ctx, p.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if code := statusWithKey(t, srv.URL(), p.ID, k.Key); code != http.StatusUnauthorized {
		t.Errorf("status with a deleted key: %d, want 401", code)
	}
	keys = must[*admin.ProjectKeyList](t)(c.ListProjectKeys(ctx, p.ID))
	if slices.ContainsFunc(keys.Keys, func(x admin.ProjectKey) bool { return x.ID == k.ID }) {
		t.Errorf("deleted key still listed")
	}

	// Safe delete.
	if err := c.DeleteProject(ctx, p.ID, "prod"); !errors.Is(err, admin.ErrNameMismatch) {
		t.Fatalf("delete with a wrong name: %v", err)
	}
	if _, err := c.GetProject(ctx, p.ID); err != nil {
		t.Fatalf("project gone after a refused delete: %v", err)
	}
	if err := c.DeleteWorkspace(ctx, ws.ID, "payments"); !errors.Is(err, admin.ErrConflict) {
		t.Errorf("deleting a workspace with a project: %v, want ErrConflict", err)
	}
	if err := c.DeleteProject(ctx, p.ID, "prod-payments"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProject(ctx, p.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
}

// statusWithKey calls the project status endpoint with a project key.
func statusWithKey(t *testing.T, baseURL, projectID, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/v1/projects/"+projectID+"/status", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestE2ERotateIngestSecret(t *testing.T) {
	srv, c := startLocal(t)
	ctx := context.Background()
	creds := srv.Credentials()
	r := must[*admin.Router](t)(c.CreateRouter(ctx, creds.ProjectID, admin.CreateRouterInput{Name: "ingest", Mode: admin.RouterModeStatic}))

	// deliver reports one sample signed with secret and returns the
	// client's delivery stats after a flush. A refusal by the server is
	// in the stats (LastDeliveryError), not a failure of the test.
	deliver := func(secret, metric string) tripswitch.Stats {
		t.Helper()
		rc, err := tripswitch.NewClient(ctx, creds.ProjectID,
			tripswitch.WithIngestSecret(secret), tripswitch.WithBaseURL(creds.BaseURL))
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Report(ctx, tripswitch.Sample{RouterID: r.ID, Metric: metric, Value: 1, OK: true}); err != nil {
			t.Fatal(err)
		}
		flushCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		var refused *tripswitch.DeliveryError
		if err := rc.Flush(flushCtx); err != nil && !errors.As(err, &refused) {
			t.Fatalf("flush: %v", err)
		}
		st := rc.Stats()
		if err := rc.Close(flushCtx); err != nil {
			t.Fatalf("close: %v", err)
		}
		return st
	}

	old := creds.IngestSecret
	if st := deliver(old, "before"); st.Delivered != 1 {
		t.Fatalf("before rotation: %+v, want 1 delivered", st)
	}
	rot := must[*admin.IngestSecret](t)(c.RotateIngestSecret(ctx, creds.ProjectID))
	if len(rot.Secret) != 64 || rot.Secret == old {
		t.Fatalf("rotation returned a secret of %d characters (same as before: %v)", len(rot.Secret), rot.Secret == old)
	}
	var refused *tripswitch.DeliveryError
	if st := deliver(old, "old-secret"); st.Delivered != 0 || st.Dropped != 1 ||
		!errors.As(st.LastDeliveryError, &refused) || refused.StatusCode != http.StatusUnauthorized {
		t.Errorf("old secret after rotation: %+v, want the sample refused with 401", st)
	}
	if st := deliver(rot.Secret, "new-secret"); st.Delivered != 1 {
		t.Errorf("new secret: %+v, want 1 delivered", st)
	}
	var metrics []string
	for _, s := range srv.Samples(creds.ProjectID) {
		metrics = append(metrics, s.Metric)
	}
	if !slices.Equal(metrics, []string{"before", "new-secret"}) {
		t.Errorf("server accepted samples %v, want [before new-secret]", metrics)
	}
}

func TestE2EBreakersAndRouters(t *testing.T) {
	shapes(t, func(t *testing.T, srv *localserver.Server, c *admin.Client) {
		ctx := context.Background()
		pid := srv.Credentials().ProjectID

		// Routers: create, read back, update, metadata.
		r := must[*admin.Router](t)(c.CreateRouter(ctx, pid, admin.CreateRouterInput{
			Name: "payments", Description: "card payments", Mode: admin.RouterModeStatic,
			Enabled: admin.Ptr(true), Metadata: map[string]string{"env": "prod"},
		}))
		if r.ID == "" || r.Name != "payments" || r.Mode != admin.RouterModeStatic || !r.Enabled || r.InsertedAt.IsZero() || r.Metadata["env"] != "prod" {
			t.Errorf("created router %+v", r)
		}
		gr := must[*admin.Router](t)(c.GetRouter(ctx, pid, r.ID))
		if gr.ID != r.ID || gr.Description != "card payments" || gr.BreakerCount != 0 {
			t.Errorf("read back router %+v", gr)
		}
		ur := must[*admin.Router](t)(c.UpdateRouter(ctx, pid, r.ID, admin.UpdateRouterInput{Enabled: admin.Ptr(false), Mode: admin.Ptr(admin.RouterModeCanary)}))
		if ur.Enabled || ur.Mode != admin.RouterModeCanary || ur.Name != "payments" || ur.Description != "card payments" {
			t.Errorf("updated router %+v", ur)
		}
		if err := c.UpdateRouterMetadata(ctx, pid, r.ID, map[string]string{"team": "checkout"}); err != nil {
			t.Fatal(err)
		}
		gr = must[*admin.Router](t)(c.GetRouter(ctx, pid, r.ID))
		if gr.Metadata["env"] != "prod" || gr.Metadata["team"] != "checkout" {
			t.Errorf("metadata after merge %v", gr.Metadata)
		}

		// Breakers: create linked to the router, read back, update.
		b := must[*admin.Breaker](t)(c.CreateBreaker(ctx, pid, admin.CreateBreakerInput{
			Name: "checkout-latency", Metric: "latency_ms", Kind: admin.KindP95, Op: admin.OpGt, Threshold: 500,
			WindowMs: 30_000, MinCount: 10, Metadata: map[string]string{"region": "eu"}, RouterIDs: []string{r.ID},
		}))
		if b.ID == "" || b.Name != "checkout-latency" || b.Kind != admin.KindP95 || b.Op != admin.OpGt || b.Threshold != 500 ||
			b.WindowMs != 30_000 || b.MinCount != 10 || b.Metadata["region"] != "eu" || !slices.Equal(b.RouterIDs, []string{r.ID}) {
			t.Errorf("created breaker %+v", b)
		}
		if b.CooldownMs == 0 || b.EvalIntervalMs == 0 || b.HalfOpenIndeterminatePolicy == "" {
			t.Errorf("server defaults not read back: %+v", b)
		}
		gb := must[*admin.Breaker](t)(c.GetBreaker(ctx, pid, b.ID))
		if gb.ID != b.ID || gb.Threshold != 500 || !slices.Equal(gb.RouterIDs, []string{r.ID}) {
			t.Errorf("read back breaker %+v", gb)
		}
		ub := must[*admin.Breaker](t)(c.UpdateBreaker(ctx, pid, b.ID, admin.UpdateBreakerInput{Threshold: admin.Ptr(0.0), MinCount: admin.Ptr(int64(3))}))
		if ub.Threshold != 0 || ub.MinCount != 3 || ub.WindowMs != 30_000 || ub.Name != "checkout-latency" {
			t.Errorf("updated breaker %+v, want threshold 0 and the rest kept", ub)
		}
		if err := c.UpdateBreakerMetadata(ctx, pid, b.ID, map[string]string{"tier": "1"}); err != nil {
			t.Fatal(err)
		}
		gb = must[*admin.Breaker](t)(c.GetBreaker(ctx, pid, b.ID))
		if gb.Metadata["region"] != "eu" || gb.Metadata["tier"] != "1" {
			t.Errorf("breaker metadata after merge %v", gb.Metadata)
		}

		// State and batch state.
		st := must[*admin.BreakerState](t)(c.GetBreakerState(ctx, pid, b.ID))
		if st.BreakerID != b.ID || st.State != admin.StateClosed || st.AllowRate != 1 || st.UpdatedAt.IsZero() {
			t.Errorf("state %+v", st)
		}
		if err := srv.ForceState(pid, b.Name, "half_open", 0.25); err != nil {
			t.Fatal(err)
		}
		st = must[*admin.BreakerState](t)(c.GetBreakerState(ctx, pid, b.ID))
		if st.State != admin.StateHalfOpen || st.AllowRate != 0.25 {
			t.Errorf("state after forcing half open %+v", st)
		}

		// Sync: keep (and reconfigure) the first breaker, add two.
		synced := must[[]admin.Breaker](t)(c.SyncBreakers(ctx, pid, []admin.CreateBreakerInput{
			{Name: "checkout-latency", Metric: "latency_ms", Kind: admin.KindP95, Op: admin.OpGt, Threshold: 750, RouterIDs: []string{r.ID}},
			{Name: "checkout-errors", Metric: "latency_ms", Kind: admin.KindErrorRate, Op: admin.OpGte, Threshold: 0.2},
			{Name: "checkout-p99", Metric: "latency_ms", Kind: admin.KindPercentile, KindParams: map[string]any{"percentile": 99}, Op: admin.OpGt, Threshold: 900,
				HalfOpenIndeterminatePolicy: admin.PolicyPessimistic, HalfOpenBackoffEnabled: admin.Ptr(true)},
		}))
		if len(synced) != 3 || synced[0].ID != b.ID || synced[0].Threshold != 750 || synced[2].KindParams["percentile"] != 99.0 ||
			synced[2].HalfOpenIndeterminatePolicy != admin.PolicyPessimistic || !synced[2].HalfOpenBackoffEnabled {
			t.Fatalf("synced %+v", synced)
		}
		errorsID, p99ID := synced[1].ID, synced[2].ID

		states := must[[]admin.BreakerState](t)(c.BatchBreakerStates(ctx, pid, admin.BatchStateInput{BreakerIDs: []string{b.ID, errorsID}}))
		if len(states) != 2 || states[0].BreakerID != b.ID || states[0].State != admin.StateHalfOpen || states[1].State != admin.StateClosed {
			t.Errorf("batch by IDs %+v", states)
		}
		states = must[[]admin.BreakerState](t)(c.BatchBreakerStates(ctx, pid, admin.BatchStateInput{RouterID: r.ID}))
		if len(states) != 1 || states[0].BreakerID != b.ID {
			t.Errorf("batch by router %+v", states)
		}
		states = must[[]admin.BreakerState](t)(c.BatchBreakerStates(ctx, pid, admin.BatchStateInput{}))
		if len(states) != 3 {
			t.Errorf("batch of all %+v", states)
		}

		// List: one page, then all pages through the iterator.
		page := must[*admin.BreakerList](t)(c.ListBreakers(ctx, pid, admin.ListBreakersParams{Limit: 2}))
		if len(page.Breakers) != 2 || page.Count != 3 || page.NextCursor == "" || page.Hash == "" || page.UpdatedAt.IsZero() {
			t.Errorf("first page %+v", page)
		}
		params := admin.ListBreakersParams{Limit: 2}
		names := []string{}
		for _, x := range collect(t, c.ListBreakersAll(ctx, pid, params)) {
			names = append(names, x.Name)
		}
		if !slices.Equal(names, []string{"checkout-latency", "checkout-errors", "checkout-p99"}) || params.Cursor != "" {
			t.Errorf("iterated %v (params %+v)", names, params)
		}

		// Link, the 409 on deleting a linked router, unlink.
		if err := c.LinkBreakers(ctx, pid, r.ID, []string{errorsID, p99ID}); err != nil {
			t.Fatal(err)
		}
		gr = must[*admin.Router](t)(c.GetRouter(ctx, pid, r.ID))
		var linked []string
		for _, x := range gr.Breakers {
			linked = append(linked, x.ID)
		}
		slices.Sort(linked)
		want := []string{b.ID, errorsID, p99ID}
		slices.Sort(want)
		if gr.BreakerCount != 3 || !slices.Equal(linked, want) {
			t.Errorf("router after link: count %d, breakers %v, want %v", gr.BreakerCount, linked, want)
		}
		gb = must[*admin.Breaker](t)(c.GetBreaker(ctx, pid, errorsID))
		if !slices.Equal(gb.RouterIDs, []string{r.ID}) {
			t.Errorf("linked breaker's router IDs %v", gb.RouterIDs)
		}
		err := c.DeleteRouter(ctx, pid, r.ID)
		var apiErr *admin.APIError
		if !errors.Is(err, admin.ErrConflict) || !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || apiErr.Code == "" {
			t.Fatalf("deleting a linked router: %v, want a 409 conflict", err)
		}
		for _, id := range want {
			if err := c.UnlinkBreaker(ctx, pid, r.ID, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.UnlinkBreaker(ctx, pid, r.ID, b.ID); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("unlinking twice: %v, want ErrNotFound", err)
		}
		gr = must[*admin.Router](t)(c.GetRouter(ctx, pid, r.ID))
		if gr.BreakerCount != 0 || len(gr.Breakers) != 0 {
			t.Errorf("router after unlink %+v", gr)
		}

		// Router list and iteration over several pages.
		for _, n := range []string{"r2", "r3"} {
			must[*admin.Router](t)(c.CreateRouter(ctx, pid, admin.CreateRouterInput{Name: n, Mode: admin.RouterModeWeighted}))
		}
		rpage := must[*admin.RouterList](t)(c.ListRouters(ctx, pid, admin.ListRoutersParams{Limit: 2}))
		if len(rpage.Routers) != 2 || rpage.NextCursor == "" {
			t.Errorf("router page %+v", rpage)
		}
		var rnames []string
		for _, x := range collect(t, c.ListRoutersAll(ctx, pid, admin.ListRoutersParams{Limit: 1})) {
			rnames = append(rnames, x.Name)
		}
		if !slices.Equal(rnames, []string{"payments", "r2", "r3"}) {
			t.Errorf("iterated routers %v", rnames)
		}

		// Deletes.
		if err := c.DeleteRouter(ctx, pid, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetRouter(ctx, pid, r.ID); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("router after delete: %v", err)
		}
		if err := c.DeleteBreaker(ctx, pid, p99ID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetBreaker(ctx, pid, p99ID); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("breaker after delete: %v", err)
		}
		if got := must[*admin.BreakerList](t)(c.ListBreakers(ctx, pid, admin.ListBreakersParams{})); got.Count != 2 {
			t.Errorf("%d breakers after delete, want 2", got.Count)
		}
	})
}

func TestE2EValidationErrorNamesTheField(t *testing.T) {
	srv, c := startLocal(t)
	_, err := c.CreateBreaker(context.Background(), srv.Credentials().ProjectID, admin.CreateBreakerInput{
		Name: "x", Metric: "m", Kind: "median", Op: admin.OpGt, Threshold: 1,
	})
	var apiErr *admin.APIError
	if !errors.Is(err, admin.ErrValidation) || !errors.As(err, &apiErr) || !strings.Contains(apiErr.Message, "kind") || apiErr.RequestID == "" {
		t.Errorf("err = %v, want a validation error naming kind with a request ID", err)
	}
}

func TestE2ENotificationChannels(t *testing.T) {
	srv, c := startLocal(t)
	ctx := context.Background()
	pid := srv.Credentials().ProjectID

	ch := must[*admin.NotificationChannel](t)(c.CreateNotificationChannel(ctx, pid, admin.CreateNotificationChannelInput{
		Name: "ops-webhook", Channel: admin.ChannelWebhook, Config: map[string]any{"url": "https://ops.example/hook"},
		Events: []admin.ChannelEvent{admin.ChannelEventTrip}, Enabled: admin.Ptr(true),
	}))
	if ch.ID == "" || ch.ProjectID != pid || ch.Channel != admin.ChannelWebhook || ch.Config["url"] != "https://ops.example/hook" ||
		!slices.Equal(ch.Events, []admin.ChannelEvent{admin.ChannelEventTrip}) || !ch.Enabled || ch.CreatedAt.IsZero() {
		t.Errorf("created %+v", ch)
	}
	got := must[*admin.NotificationChannel](t)(c.GetNotificationChannel(ctx, pid, ch.ID))
	if got.ID != ch.ID || got.Name != "ops-webhook" || !got.UpdatedAt.Equal(ch.UpdatedAt) {
		t.Errorf("read back %+v", got)
	}
	upd := must[*admin.NotificationChannel](t)(c.UpdateNotificationChannel(ctx, pid, ch.ID, admin.UpdateNotificationChannelInput{
		Enabled: admin.Ptr(false), Events: []admin.ChannelEvent{admin.ChannelEventTrip, admin.ChannelEventRecover},
	}))
	if upd.Enabled || len(upd.Events) != 2 || upd.Name != "ops-webhook" || upd.Config["url"] != "https://ops.example/hook" {
		t.Errorf("updated %+v", upd)
	}
	if err := c.TestNotificationChannel(ctx, pid, ch.ID); err != nil {
		t.Errorf("test: %v", err)
	}
	for _, n := range []string{"slack", "pager"} {
		kind := admin.ChannelSlack
		if n == "pager" {
			kind = admin.ChannelPagerDuty
		}
		must[*admin.NotificationChannel](t)(c.CreateNotificationChannel(ctx, pid, admin.CreateNotificationChannelInput{Name: n, Channel: kind}))
	}
	page := must[*admin.NotificationChannelList](t)(c.ListNotificationChannels(ctx, pid, admin.ListNotificationChannelsParams{Limit: 2}))
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Errorf("page %+v", page)
	}
	var names []string
	for _, x := range collect(t, c.ListNotificationChannelsAll(ctx, pid, admin.ListNotificationChannelsParams{Limit: 2})) {
		names = append(names, x.Name)
	}
	if !slices.Equal(names, []string{"ops-webhook", "slack", "pager"}) {
		t.Errorf("iterated %v", names)
	}
	if err := c.DeleteNotificationChannel(ctx, pid, ch.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetNotificationChannel(ctx, pid, ch.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := c.TestNotificationChannel(ctx, pid, ch.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("test after delete: %v", err)
	}
}

func TestE2EEvents(t *testing.T) {
	clock := localservertest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	srv, c := startLocal(t, localservertest.WithClock(clock))
	ctx := context.Background()
	pid := srv.Credentials().ProjectID
	var ids []string
	for _, n := range []string{"a", "b"} {
		b := must[*admin.Breaker](t)(c.CreateBreaker(ctx, pid, admin.CreateBreakerInput{Name: n, Metric: "m", Kind: admin.KindCount, Op: admin.OpGt, Threshold: 100}))
		ids = append(ids, b.ID)
	}
	steps := []struct {
		breaker, state string
		rate           float64
	}{{"a", "open", 0}, {"b", "open", 0}, {"a", "half_open", 0.5}, {"a", "closed", 1}}
	for _, s := range steps {
		clock.Advance(time.Minute)
		if err := srv.ForceState(pid, s.breaker, s.state, s.rate); err != nil {
			t.Fatal(err)
		}
	}

	all := must[*admin.EventList](t)(c.ListEvents(ctx, pid, admin.ListEventsParams{}))
	if len(all.Events) != 4 || all.Returned != 4 || all.NextCursor != "" {
		t.Fatalf("events %+v", all)
	}
	first := all.Events[0]
	if first.BreakerID != ids[0] || first.ProjectID != pid || first.FromState != admin.StateClosed || first.ToState != admin.StateOpen ||
		!first.Timestamp.Equal(time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)) || first.ID == "" {
		t.Errorf("first event %+v", first)
	}
	var toStates []admin.State
	for _, e := range collect(t, c.ListEventsAll(ctx, pid, admin.ListEventsParams{BreakerID: ids[0], Limit: 1})) {
		toStates = append(toStates, e.ToState)
	}
	if !slices.Equal(toStates, []admin.State{admin.StateOpen, admin.StateHalfOpen, admin.StateClosed}) {
		t.Errorf("breaker a's transitions %v", toStates)
	}
	window := must[*admin.EventList](t)(c.ListEvents(ctx, pid, admin.ListEventsParams{
		StartTime: time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC), EndTime: time.Date(2026, 3, 1, 12, 4, 0, 0, time.UTC),
	}))
	if len(window.Events) != 2 || window.Events[0].BreakerID != ids[1] || window.Events[1].ToState != admin.StateHalfOpen {
		t.Errorf("events in [12:02, 12:04) %+v", window.Events)
	}
}

func TestE2EIdempotencyKeyPreventsDuplicates(t *testing.T) {
	_, c := startLocal(t)
	ctx := context.Background()
	before := must[*admin.ProjectList](t)(c.ListProjects(ctx, admin.ListProjectsParams{})).Count
	p1 := must[*admin.Project](t)(c.CreateProject(ctx, admin.CreateProjectInput{Name: "once"}, admin.WithIdempotencyKey("deploy-42")))
	p2 := must[*admin.Project](t)(c.CreateProject(ctx, admin.CreateProjectInput{Name: "once"}, admin.WithIdempotencyKey("deploy-42")))
	if p1.ID != p2.ID {
		t.Errorf("same idempotency key created %s and %s", p1.ID, p2.ID)
	}
	if after := must[*admin.ProjectList](t)(c.ListProjects(ctx, admin.ListProjectsParams{})).Count; after != before+1 {
		t.Errorf("%d projects after, %d before; want one more", after, before)
	}
}

// syncBuffer is a concurrency-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestE2ERateLimitedCallsAreRetried(t *testing.T) {
	srv := localservertest.Start(t, func(cfg *localserver.Config) { cfg.RateLimit = 2; cfg.RateBurst = 1 })
	creds := srv.Credentials()
	logs := &syncBuffer{}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := admin.NewClient(creds.AdminKey, admin.WithBaseURL(creds.BaseURL), admin.WithHTTPClient(&http.Client{Transport: tr}),
		admin.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		admin.WithRetryPolicy(admin.RetryPolicy{MaxAttempts: 10}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := c.GetProject(context.Background(), creds.ProjectID); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !strings.Contains(logs.String(), "status=429") {
		t.Errorf("no 429 was retried; logs:\n%s", logs)
	}

	off, _ := admin.NewClient(creds.AdminKey, admin.WithBaseURL(creds.BaseURL), admin.WithHTTPClient(&http.Client{Transport: tr}), admin.WithoutRetries())
	var limited *admin.APIError
	for range 5 {
		if _, err := off.GetProject(context.Background(), creds.ProjectID); errors.As(err, &limited) {
			break
		}
	}
	if limited == nil || !errors.Is(limited, admin.ErrRateLimited) || limited.RetryAfter <= 0 || limited.Attempts != 1 {
		t.Errorf("without retries: %v, want a 429 with Retry-After after one attempt", limited)
	}
}

func TestE2EBadKeyNeverLeaks(t *testing.T) {
	srv := localservertest.Start(t)
	logs := &syncBuffer{}
	const wrong = "eb_admin_not_the_right_key_0123456789"
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := admin.NewClient(wrong, admin.WithBaseURL(srv.URL()), admin.WithHTTPClient(&http.Client{Transport: tr}),
		admin.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err1 := c.ListWorkspaces(ctx)
	_, err2 := c.CreateProject(ctx, admin.CreateProjectInput{Name: "x"})
	err3 := c.DeleteProject(ctx, srv.Credentials().ProjectID, "x")
	for _, err := range []error{err1, err2, err3} {
		if !errors.Is(err, admin.ErrUnauthorized) {
			t.Errorf("err = %v, want ErrUnauthorized", err)
		}
		if text := fmt.Sprintf("%v %+v", err, err); strings.Contains(text, wrong) {
			t.Errorf("key in error %q", text)
		}
	}
	if strings.Contains(logs.String(), wrong) {
		t.Errorf("key in logs:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "status=401") {
		t.Errorf("failure not logged:\n%s", logs)
	}
}
