package admin_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/admin"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func routersNamed(t *testing.T, c *admin.Client, projectID, name string) []admin.Router {
	t.Helper()
	var out []admin.Router
	for _, r := range collect(t, c.ListRoutersAll(context.Background(), projectID, admin.ListRoutersParams{})) {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

func TestE2EEnsureRouter(t *testing.T) {
	shapes(t, func(t *testing.T, srv *localserver.Server, c *admin.Client) {
		ctx := context.Background()
		pid := srv.Credentials().ProjectID
		in := admin.CreateRouterInput{Name: "payments", Description: "the payments API", Mode: admin.RouterModeStatic,
			Metadata: map[string]string{"team": "billing"}}

		first := must[*admin.Router](t)(c.EnsureRouter(ctx, pid, in))
		again := must[*admin.Router](t)(c.EnsureRouter(ctx, pid, in))
		if again.ID != first.ID {
			t.Errorf("second EnsureRouter returned %s, first %s; want the same router", again.ID, first.ID)
		}
		if got := routersNamed(t, c, pid, "payments"); len(got) != 1 {
			t.Fatalf("%d routers named payments after two EnsureRouter calls, want 1", len(got))
		}

		// An update: what is set changes, what is empty is kept, metadata
		// is merged.
		changed := must[*admin.Router](t)(c.EnsureRouter(ctx, pid, admin.CreateRouterInput{
			Name: "payments", Mode: admin.RouterModeCanary, Metadata: map[string]string{"tier": "1"},
		}))
		got := must[*admin.Router](t)(c.GetRouter(ctx, pid, first.ID))
		if changed.ID != first.ID || got.Mode != admin.RouterModeCanary || got.Description != "the payments API" ||
			got.Metadata["team"] != "billing" || got.Metadata["tier"] != "1" {
			t.Errorf("after update: %+v; want mode canary, the description and both metadata keys kept", got)
		}
	})
}

func TestE2EEnsureRouterRefusesDuplicates(t *testing.T) {
	srv, c := startLocal(t)
	ctx := context.Background()
	pid := srv.Credentials().ProjectID
	a := must[*admin.Router](t)(c.CreateRouter(ctx, pid, admin.CreateRouterInput{Name: "dup", Mode: admin.RouterModeStatic}))
	b := must[*admin.Router](t)(c.CreateRouter(ctx, pid, admin.CreateRouterInput{Name: "dup", Mode: admin.RouterModeStatic}))

	_, err := c.EnsureRouter(ctx, pid, admin.CreateRouterInput{Name: "dup", Mode: admin.RouterModeCanary})
	if !errors.Is(err, admin.ErrDuplicateName) {
		t.Fatalf("err = %v, want ErrDuplicateName", err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name router %s", err, id)
		}
		if r := must[*admin.Router](t)(c.GetRouter(ctx, pid, id)); r.Mode != admin.RouterModeStatic {
			t.Errorf("router %s changed to %s although the call failed", id, r.Mode)
		}
	}
	if got := routersNamed(t, c, pid, "dup"); len(got) != 2 {
		t.Errorf("%d routers named dup, want the 2 there were", len(got))
	}
}

func TestE2EEnsureBreaker(t *testing.T) {
	shapes(t, func(t *testing.T, srv *localserver.Server, c *admin.Client) {
		ctx := context.Background()
		pid := srv.Credentials().ProjectID
		ra := must[*admin.Router](t)(c.EnsureRouter(ctx, pid, admin.CreateRouterInput{Name: "a", Mode: admin.RouterModeStatic}))
		rb := must[*admin.Router](t)(c.EnsureRouter(ctx, pid, admin.CreateRouterInput{Name: "b", Mode: admin.RouterModeStatic}))
		other := must[*admin.Breaker](t)(c.CreateBreaker(ctx, pid, admin.CreateBreakerInput{
			Name: "other", Metric: "latency_ms", Kind: admin.KindMax, Op: admin.OpGt, Threshold: 9,
		}))

		in := admin.CreateBreakerInput{
			Name: "api-p95", Metric: "latency_ms", Kind: admin.KindP95, Op: admin.OpGt, Threshold: 500,
			WindowMs: 30_000, CooldownMs: 7_000, Metadata: map[string]string{"team": "api"}, RouterIDs: []string{ra.ID},
		}
		first := must[*admin.Breaker](t)(c.EnsureBreaker(ctx, pid, in))

		// Again, with a new threshold, another router, a zero window and
		// more metadata.
		in.Threshold, in.WindowMs, in.RouterIDs, in.Metadata = 800, 0, []string{rb.ID}, map[string]string{"tier": "1"}
		second := must[*admin.Breaker](t)(c.EnsureBreaker(ctx, pid, in))
		if second.ID != first.ID {
			t.Errorf("second EnsureBreaker returned %s, first %s; want the same breaker", second.ID, first.ID)
		}
		got := must[*admin.Breaker](t)(c.GetBreaker(ctx, pid, first.ID))
		if got.Threshold != 800 || got.WindowMs != 30_000 || got.CooldownMs != 7_000 {
			t.Errorf("threshold %v window %d cooldown %d; want 800, 30000 kept, 7000 kept", got.Threshold, got.WindowMs, got.CooldownMs)
		}
		if !slices.Contains(got.RouterIDs, ra.ID) || !slices.Contains(got.RouterIDs, rb.ID) {
			t.Errorf("router links %v; want both %s (kept) and %s (added)", got.RouterIDs, ra.ID, rb.ID)
		}
		if got.Metadata["team"] != "api" || got.Metadata["tier"] != "1" {
			t.Errorf("metadata %v; want both keys", got.Metadata)
		}

		// Nothing else was deleted (SyncBreakers would have deleted "other").
		var names []string
		for _, b := range collect(t, c.ListBreakersAll(ctx, pid, admin.ListBreakersParams{})) {
			names = append(names, b.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"api-p95", "other"}) {
			t.Errorf("breakers %v, want [api-p95 other]", names)
		}
		if _, err := c.GetBreaker(ctx, pid, other.ID); err != nil {
			t.Errorf("the other breaker: %v", err)
		}
	})
}

// TestE2EEnsureBreakerConcurrent has several callers ensure the same new
// breaker at once: they all get the one breaker the server holds.
func TestE2EEnsureBreakerConcurrent(t *testing.T) {
	srv, c := startLocal(t)
	pid := srv.Credentials().ProjectID
	in := admin.CreateBreakerInput{Name: "shared", Metric: "latency_ms", Kind: admin.KindErrorRate, Op: admin.OpGt, Threshold: 0.5}
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			b, err := c.EnsureBreaker(context.Background(), pid, in)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = b.ID
		})
	}
	wg.Wait()
	all := collect(t, c.ListBreakersAll(context.Background(), pid, admin.ListBreakersParams{}))
	if len(all) != 1 {
		t.Fatalf("%d breakers after %d concurrent EnsureBreaker calls, want 1", len(all), n)
	}
	for i, id := range ids {
		if id != all[0].ID {
			t.Errorf("caller %d got %q, want %s", i, id, all[0].ID)
		}
	}
}

// dropFirstCreate delivers the first POST to the server but reports a
// transport failure to the client, as when a response is lost.
type dropFirstCreate struct {
	next    http.RoundTripper
	dropped atomic.Bool
}

func (d *dropFirstCreate) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && d.dropped.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset (response lost)")
	}
	return resp, err
}

// TestE2EEnsureRouterLostResponse: the create reached the server but its
// response was lost; the retry carries the same Idempotency-Key, so the
// project still has one router, and a later EnsureRouter finds it.
func TestE2EEnsureRouterLostResponse(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	drop := &dropFirstCreate{next: tr}
	c, err := admin.NewClient(creds.AdminKey, admin.WithBaseURL(creds.BaseURL), admin.WithHTTPClient(&http.Client{Transport: drop}),
		admin.WithRetryPolicy(admin.RetryPolicy{BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := admin.CreateRouterInput{Name: "payments", Mode: admin.RouterModeStatic}
	r := must[*admin.Router](t)(c.EnsureRouter(ctx, creds.ProjectID, in))
	if !drop.dropped.Load() {
		t.Fatal("no response was dropped")
	}
	again := must[*admin.Router](t)(c.EnsureRouter(ctx, creds.ProjectID, in))
	if got := routersNamed(t, c, creds.ProjectID, "payments"); len(got) != 1 || again.ID != r.ID {
		t.Errorf("%d routers named payments (ensured %s, then %s); want 1", len(got), r.ID, again.ID)
	}
}

func TestEnsureNeedsAName(t *testing.T) {
	c, err := admin.NewClient("eb_admin_unused_0123456789", admin.WithBaseURL("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err1 := c.EnsureRouter(ctx, "proj_1", admin.CreateRouterInput{Mode: admin.RouterModeStatic})
	_, err2 := c.EnsureBreaker(ctx, "proj_1", admin.CreateBreakerInput{Metric: "m", Kind: admin.KindMax, Op: admin.OpGt})
	for _, err := range []error{err1, err2} {
		if !errors.Is(err, admin.ErrInvalidArgument) || !strings.Contains(err.Error(), "name is empty") {
			t.Errorf("err = %v, want ErrInvalidArgument naming the name", err)
		}
	}
}
