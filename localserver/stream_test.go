package localserver_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func TestStreamSnapshotChangesAndPing(t *testing.T) {
	srv := localservertest.Start(t, localservertest.WithPingInterval(20*time.Millisecond))
	localservertest.Seed(t, srv, localserver.Seed{Breakers: []localserver.SeedBreaker{
		{Name: "a", Metric: "m", Kind: "count", Op: "gt", Threshold: 1},
		{Name: "b", Metric: "m", Kind: "count", Op: "gt", Threshold: 1},
	}})
	c := srv.Credentials()
	must(t, srv.ForceState(c.ProjectID, "b", "half_open", 0.2))

	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	if ct := st.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if st.resp.Header.Get("X-Request-ID") == "" {
		t.Fatal("stream without X-Request-ID")
	}
	got := map[string]any{}
	for range 2 {
		e := st.next()
		got[e["breaker"].(string)] = e["state"].(string) + "/" + fmtRate(e["allow_rate"])
	}
	if got["a"] != "closed/1" || got["b"] != "half_open/0.2" {
		t.Fatalf("snapshot %v", got)
	}
	must(t, srv.ForceState(c.ProjectID, "a", "open", 0))
	if e := st.next(); e["breaker"] != "a" || e["state"] != "open" {
		t.Fatalf("change %v", e)
	}
	// A new breaker is announced too.
	wantStatus(t, call(t, "POST", projectURL(srv, "/breakers"), c.AdminKey, with(validBreaker, "name", "c")), 201)
	if e := st.next(); e["breaker"] != "c" || e["state"] != "closed" {
		t.Fatalf("new breaker event %v", e)
	}
	waitFor(t, "a ping comment", func() bool {
		for {
			select {
			case l := <-st.lines:
				if l == ": ping" {
					return true
				}
			default:
				return false
			}
		}
	})
	// Every data line is a JSON object of the documented shape.
	select {
	case e := <-st.events:
		if _, bad := e["invalid"]; bad {
			t.Fatalf("malformed data line %v", e)
		}
	default:
	}
}

func fmtRate(v any) string {
	f, _ := v.(float64)
	return strings.TrimRight(strings.TrimRight(strconvF(f), "0"), ".")
}

func TestStreamDisconnectFreesSubscriber(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	streams := make([]*sseStream, 5)
	for i := range streams {
		streams[i] = openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	}
	waitFor(t, "5 subscribers", func() bool { return srv.SubscriberCount(c.ProjectID) == 5 })
	for _, s := range streams {
		s.close()
	}
	waitFor(t, "subscribers to go", func() bool { return srv.SubscriberCount(c.ProjectID) == 0 })
}

func TestShutdownClosesStreams(t *testing.T) {
	srv, err := localserver.New(localserver.Config{})
	must(t, err)
	must(t, srv.Start("127.0.0.1:0"))
	c := srv.Credentials()
	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	waitFor(t, "the subscriber", func() bool { return srv.SubscriberCount(c.ProjectID) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	must(t, srv.Shutdown(ctx))
	if !st.ended() {
		t.Fatal("stream still open after Shutdown")
	}
	// Shutdown is idempotent; Start after it fails.
	must(t, srv.Shutdown(ctx))
	if err := srv.Start("127.0.0.1:0"); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
}

func TestDeletingProjectEndsItsStreams(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	waitFor(t, "the subscriber", func() bool { return srv.SubscriberCount(c.ProjectID) == 1 })
	wantStatus(t, call(t, "DELETE", projectURL(srv, ""), c.AdminKey, nil), http.StatusNoContent)
	if !st.ended() {
		t.Fatal("stream of a deleted project still open")
	}
	wantStatus(t, call(t, "GET", projectURL(srv, "/status"), c.ProjectKey, nil), http.StatusUnauthorized)
}

// With debug logging the access log wraps every handler; streams must still
// flush through it.
func TestStreamWithAccessLog(t *testing.T) {
	var logs syncWriter
	srv := localservertest.Start(t, func(c *localserver.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	if e := st.next(); e["breaker"] != "errors" {
		t.Fatalf("snapshot %v", e)
	}
	must(t, srv.ForceState(c.ProjectID, "errors", "open", 0))
	if e := st.next(); e["state"] != "open" {
		t.Fatalf("change %v", e)
	}
	wantStatus(t, call(t, "GET", projectURL(srv, "/status"), c.ProjectKey, nil), 200)
	waitFor(t, "an access log line", func() bool {
		return strings.Contains(logs.String(), "path=/v1/projects/"+c.ProjectID+"/status status=200")
	})
	for _, secret := range []string{c.ProjectKey, c.AdminKey, c.IngestSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("logs contain a credential")
		}
	}
}

func TestDeletingAKeyEndsItsStreams(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	r := call(t, "POST", projectURL(srv, "/keys"), c.AdminKey, map[string]string{"name": "temp"})
	wantStatus(t, r, http.StatusCreated)
	m := r.json(t)
	revoked := openStream(t, c.BaseURL, c.ProjectID, m["key"].(string))
	kept := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	waitFor(t, "both subscribers", func() bool { return srv.SubscriberCount(c.ProjectID) == 2 })
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/keys/"+m["id"].(string)), c.AdminKey, nil), http.StatusNoContent)
	if !revoked.ended() {
		t.Fatal("stream of a deleted key still open")
	}
	select {
	case <-kept.done:
		t.Fatal("stream of another key ended")
	default:
	}
	if n := srv.SubscriberCount(c.ProjectID); n != 1 {
		t.Fatalf("%d subscribers, want the other key's only", n)
	}
}
