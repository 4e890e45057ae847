package localserver_test

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func TestCursorPagination(t *testing.T) {
	srv := localservertest.Start(t)
	key := srv.Credentials().AdminKey
	for i := range 7 {
		wantStatus(t, call(t, "POST", projectURL(srv, "/breakers"), key, with(validBreaker, "name", fmt.Sprint("b", i))), 201)
		wantStatus(t, call(t, "POST", projectURL(srv, "/routers"), key, map[string]any{"name": fmt.Sprint("r", i)}), 201)
		wantStatus(t, call(t, "POST", projectURL(srv, "/notification-channels"), key, map[string]any{"name": fmt.Sprint("c", i), "channel": "email"}), 201)
	}
	for i := 0; i < 7; i++ {
		if err := srv.ForceState(srv.Credentials().ProjectID, fmt.Sprint("b", i), "open", 0); err != nil {
			t.Fatal(err)
		}
	}
	lists := []struct{ path, items, nameKey, prefix string }{
		{"/breakers", "breakers", "name", "b"},
		{"/routers", "routers", "name", "r"},
		{"/notification-channels", "items", "name", "c"},
		{"/events", "events", "breaker_name", "b"},
	}
	for _, l := range lists {
		t.Run(l.path, func(t *testing.T) {
			var names []string
			cursor := ""
			pages := 0
			for {
				q := url.Values{"limit": {"3"}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				r := call(t, "GET", projectURL(srv, l.path+"?"+q.Encode()), key, nil)
				wantStatus(t, r, 200)
				m := r.json(t)
				items := m[l.items].([]any)
				if len(items) > 3 {
					t.Fatalf("page of %d items with limit 3", len(items))
				}
				for _, it := range items {
					names = append(names, it.(map[string]any)[l.nameKey].(string))
				}
				pages++
				next, _ := m["next_cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			want := strings.ReplaceAll("x0,x1,x2,x3,x4,x5,x6", "x", l.prefix)
			if pages != 3 || strings.Join(names, ",") != want {
				t.Fatalf("%d pages: %v", pages, names)
			}
		})
	}
	for _, q := range []string{"cursor=abc", "cursor=" + url.QueryEscape("Yzk5OQ"), "limit=0", "limit=x", "limit=-3"} {
		t.Run("bad "+q, func(t *testing.T) {
			r := call(t, "GET", projectURL(srv, "/breakers?"+q), key, nil)
			wantStatus(t, r, 400)
			if f := r.json(t)["field"]; f != "cursor" && f != "limit" {
				t.Fatalf("field %v", f)
			}
		})
	}
	// A limit above the maximum is lowered, not refused.
	wantStatus(t, call(t, "GET", projectURL(srv, "/breakers?limit=100000"), key, nil), 200)
}

func TestEventsFilters(t *testing.T) {
	srv, clock := start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	t0 := clock.Now()
	must(t, srv.ForceState(c.ProjectID, "errors", "open", 0))
	clock.Advance(time.Minute)
	must(t, srv.ForceState(c.ProjectID, "errors", "half_open", 0.5))
	clock.Advance(time.Minute)
	must(t, srv.ForceState(c.ProjectID, "errors", "closed", 1))

	count := func(q string) int {
		r := call(t, "GET", projectURL(srv, "/events?"+q), c.AdminKey, nil)
		wantStatus(t, r, 200)
		return int(r.json(t)["returned"].(float64))
	}
	ts := func(d time.Duration) string { return url.QueryEscape(t0.Add(d).Format(time.RFC3339)) }
	if n := count(""); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
	if n := count("start_time=" + ts(time.Minute)); n != 2 {
		t.Fatalf("%d events from t0+1m, want 2", n)
	}
	if n := count("start_time=" + ts(time.Second) + "&end_time=" + ts(2*time.Minute)); n != 1 {
		t.Fatalf("%d events in (t0+1s, t0+2m), want 1", n)
	}
	if n := count("breaker_id=brk_other"); n != 0 {
		t.Fatalf("%d events of another breaker", n)
	}
	r := call(t, "GET", projectURL(srv, "/events?start_time=yesterday"), c.AdminKey, nil)
	wantStatus(t, r, 400)
	if r.json(t)["field"] != "start_time" {
		t.Fatalf("error %s", r.Body)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	body := map[string]any{"name": "once", "mode": "static"}
	first := call(t, "POST", projectURL(srv, "/routers"), c.AdminKey, body, "Idempotency-Key", "k-1")
	wantStatus(t, first, 201)
	again := call(t, "POST", projectURL(srv, "/routers"), c.AdminKey, body, "Idempotency-Key", "k-1")
	wantStatus(t, again, 201)
	if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs:\n%s\n%s", first.Body, again.Body)
	}
	if n := len(call(t, "GET", projectURL(srv, "/routers"), c.AdminKey, nil).json(t)["routers"].([]any)); n != 1 {
		t.Fatalf("%d routers after a replay, want 1", n)
	}
	r := call(t, "POST", projectURL(srv, "/routers"), c.AdminKey, map[string]any{"name": "other"}, "Idempotency-Key", "k-1")
	wantStatus(t, r, 422)
	if r.errCode(t) != "idempotency_key_reused" {
		t.Fatalf("code %q", r.errCode(t))
	}
	// The key is scoped by path: the same key elsewhere is a new request.
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/workspaces", c.AdminKey, map[string]any{"name": "w"}, "Idempotency-Key", "k-1"), 201)
	// Without a key, each POST creates.
	wantStatus(t, call(t, "POST", projectURL(srv, "/routers"), c.AdminKey, body), 201)
	if n := len(call(t, "GET", projectURL(srv, "/routers"), c.AdminKey, nil).json(t)["routers"].([]any)); n != 2 {
		t.Fatalf("%d routers, want 2", n)
	}
	// Errors are replayed as well.
	bad := map[string]any{"name": "x", "mode": "nope"}
	wantStatus(t, call(t, "POST", projectURL(srv, "/routers"), c.AdminKey, bad, "Idempotency-Key", "k-2"), 422)
	wantStatus(t, call(t, "POST", projectURL(srv, "/routers"), c.AdminKey, bad, "Idempotency-Key", "k-2"), 422)
	wantStatus(t, call(t, "POST", projectURL(srv, "/routers"), c.AdminKey, body, "Idempotency-Key", strings.Repeat("k", 256)), 400)
}

func TestMetadataETags(t *testing.T) {
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	for _, kind := range []string{"breakers", "routers"} {
		t.Run(kind, func(t *testing.T) {
			u := projectURL(srv, "/"+kind+"/metadata")
			r := call(t, "GET", u, c.ProjectKey, nil)
			wantStatus(t, r, 200)
			tag := r.Header.Get("ETag")
			if tag == "" || len(r.json(t)[kind].([]any)) == 0 {
				t.Fatalf("no ETag or no items: %q %s", tag, r.Body)
			}
			r = call(t, "GET", u, c.ProjectKey, nil, "If-None-Match", tag)
			wantStatus(t, r, 304)
			if len(r.Body) != 0 || r.Header.Get("ETag") != tag || r.Header.Get("X-Request-ID") == "" {
				t.Fatalf("304 with body %q, ETag %q", r.Body, r.Header.Get("ETag"))
			}
			wantStatus(t, call(t, "GET", u, c.ProjectKey, nil, "If-None-Match", `W/`+tag+`, "zzz"`), 304)
			id := map[string]string{"breakers": "errors", "routers": "rtr_a"}[kind]
			wantStatus(t, call(t, "PATCH", projectURL(srv, "/"+kind+"/"+id+"/metadata"), c.AdminKey, map[string]string{"v": "2"}), 200)
			r = call(t, "GET", u, c.ProjectKey, nil, "If-None-Match", tag)
			wantStatus(t, r, 200)
			if r.Header.Get("ETag") == tag || !strings.Contains(string(r.Body), `"v":"2"`) {
				t.Fatalf("changed metadata kept ETag %q: %s", tag, r.Body)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	r := call(t, "GET", c.BaseURL+"/v1/workspaces", c.AdminKey, nil, "X-Request-ID", "abc-123")
	if r.Header.Get("X-Request-ID") != "abc-123" {
		t.Fatalf("X-Request-ID %q, want the client's", r.Header.Get("X-Request-ID"))
	}
	seen := map[string]bool{}
	for _, req := range []struct{ method, path, key string }{
		{"GET", "/v1/workspaces", c.AdminKey},
		{"GET", "/v1/workspaces", ""},
		{"GET", "/nowhere", ""},
		{"POST", "/v1/projects/" + c.ProjectID + "/ingest", ""},
	} {
		r := call(t, req.method, c.BaseURL+req.path, req.key, nil, "X-Request-ID", "bad id with spaces")
		id := r.Header.Get("X-Request-ID")
		if !strings.HasPrefix(id, "req_") || seen[id] {
			t.Fatalf("%s %s: X-Request-ID %q", req.method, req.path, id)
		}
		seen[id] = true
	}
}

func TestRateLimit(t *testing.T) {
	srv, clock := start(t, func(c *localserver.Config) { c.RateLimit = 1; c.RateBurst = 2 })
	c := srv.Credentials()
	u := c.BaseURL + "/v1/workspaces"
	wantStatus(t, call(t, "GET", u, c.AdminKey, nil), 200)
	wantStatus(t, call(t, "GET", u, c.AdminKey, nil), 200)
	r := call(t, "GET", u, c.AdminKey, nil)
	wantStatus(t, r, 429)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if r.errCode(t) != "rate_limited" {
		t.Fatalf("code %q", r.errCode(t))
	}
	// Another credential has its own budget.
	wantStatus(t, call(t, "GET", projectURL(srv, "/status"), c.ProjectKey, nil), 200)
	clock.Advance(time.Second)
	wantStatus(t, call(t, "GET", u, c.AdminKey, nil), 200)
}
