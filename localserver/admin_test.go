package localserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

var validBreaker = map[string]any{
	"name": "checkout-latency", "metric": "latency", "kind": "p95", "op": "gt", "threshold": 500,
	"metadata": map[string]string{"region": "us-east-1"},
}

func with(base map[string]any, kv ...any) map[string]any {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// TestResponseShapes reads both documented shapes of each call with two
// shapes, over raw HTTP.
func TestResponseShapes(t *testing.T) {
	for _, bare := range []bool{false, true} {
		t.Run(fmt.Sprintf("bare=%v", bare), func(t *testing.T) {
			srv := localservertest.Start(t, func(c *localserver.Config) { c.BareResponses = bare })
			key := srv.Credentials().AdminKey

			r := call(t, "POST", projectURL(srv, "/routers"), key, map[string]any{"name": "payments", "mode": "static"})
			wantStatus(t, r, 201)
			var router map[string]any
			if bare {
				router = r.json(t)
			} else {
				router = r.json(t)["router"].(map[string]any)
			}
			rid := router["id"].(string)
			if !strings.HasPrefix(rid, "rtr_") || router["enabled"] != true || router["breaker_count"] != 0.0 {
				t.Fatalf("router = %v", router)
			}

			r = call(t, "POST", projectURL(srv, "/breakers"), key, with(validBreaker, "router_ids", []string{rid}))
			wantStatus(t, r, 201)
			var brk map[string]any
			if bare {
				brk = r.json(t)
			} else {
				m := r.json(t)
				brk = m["breaker"].(map[string]any)
				if ids := m["router_ids"].([]any); len(ids) != 1 || ids[0] != rid {
					t.Fatalf("wrapped router_ids = %v", ids)
				}
			}
			bid := brk["id"].(string)
			if !strings.HasPrefix(bid, "brk_") || brk["name"] != "checkout-latency" || brk["window_ms"] != 60000.0 ||
				brk["half_open_indeterminate_policy"] != "conservative" {
				t.Fatalf("breaker = %v", brk)
			}

			r = call(t, "PUT", projectURL(srv, "/breakers"), key, map[string]any{"breakers": []any{
				with(validBreaker, "threshold", 800, "router_ids", []string{rid}),
				with(validBreaker, "name", "second", "kind", "count"),
			}})
			wantStatus(t, r, 200)
			var list []map[string]any
			if bare {
				mustUnmarshal(t, r.Body, &list)
			} else {
				var w struct{ Breakers []map[string]any }
				mustUnmarshal(t, r.Body, &w)
				list = w.Breakers
			}
			if len(list) != 2 || list[0]["id"] != bid || list[0]["threshold"] != 800.0 {
				t.Fatalf("sync result = %v (the existing breaker keeps its ID)", list)
			}

			r = call(t, "POST", projectURL(srv, "/breakers/state:batch"), key, map[string]any{"router_id": rid})
			wantStatus(t, r, 200)
			var states []map[string]any
			if bare {
				mustUnmarshal(t, r.Body, &states)
			} else {
				var w struct{ States []map[string]any }
				mustUnmarshal(t, r.Body, &w)
				states = w.States
			}
			if len(states) != 1 || states[0]["breaker_id"] != bid || states[0]["state"] != "closed" || states[0]["allow_rate"] != 1.0 {
				t.Fatalf("batch states = %v", states)
			}
		})
	}
}

func mustUnmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func TestBreakerValidationNamesTheField(t *testing.T) {
	srv := localservertest.Start(t)
	key := srv.Credentials().AdminKey
	long := strings.Repeat("n", 129)
	cases := []struct {
		body  any
		field string
	}{
		{with(validBreaker, "name", nil), "name"},
		{with(validBreaker, "name", long), "name"},
		{with(validBreaker, "metric", nil), "metric"},
		{with(validBreaker, "kind", "median"), "kind"},
		{with(validBreaker, "op", "eq"), "op"},
		{with(validBreaker, "kind", "percentile"), "kind_params.percentile"},
		{with(validBreaker, "kind", "percentile", "kind_params", map[string]any{"percentile": 120}), "kind_params.percentile"},
		{with(validBreaker, "kind_params", map[string]any{"percentile": "high"}), "kind_params"},
		{with(validBreaker, "kind", "error_rate", "threshold", 5), "threshold"},
		{with(validBreaker, "window_ms", -1), "window_ms"},
		{with(validBreaker, "window_ms", "1m"), "window_ms"},
		{with(validBreaker, "half_open_indeterminate_policy", "hopeful"), "half_open_indeterminate_policy"},
		{with(validBreaker, "router_ids", []string{"rtr_missing"}), "router_ids"},
		{with(validBreaker, "metadata", map[string]string{"k": strings.Repeat("v", 1025)}), "metadata.k"},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			r := call(t, "POST", projectURL(srv, "/breakers"), key, tc.body)
			wantStatus(t, r, 422)
			m := r.json(t)
			if m["field"] != tc.field || !strings.HasPrefix(m["message"].(string), tc.field) {
				t.Fatalf("error %v, want field %s", m, tc.field)
			}
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		r := call(t, "POST", projectURL(srv, "/breakers"), key, `{"name":`)
		wantStatus(t, r, 400)
	})
	t.Run("sync names the entry", func(t *testing.T) {
		r := call(t, "PUT", projectURL(srv, "/breakers"), key, map[string]any{"breakers": []any{validBreaker, with(validBreaker, "name", "b", "op", "eq")}})
		wantStatus(t, r, 422)
		if f := r.json(t)["field"]; f != "breakers[1].op" {
			t.Fatalf("field %v", f)
		}
		// Nothing was created.
		if n := call(t, "GET", projectURL(srv, "/breakers"), key, nil).json(t)["count"]; n != 0.0 {
			t.Fatalf("count %v after a rejected sync", n)
		}
	})
	t.Run("duplicate name", func(t *testing.T) {
		wantStatus(t, call(t, "POST", projectURL(srv, "/breakers"), key, validBreaker), 201)
		r := call(t, "POST", projectURL(srv, "/breakers"), key, validBreaker)
		wantStatus(t, r, 409)
	})
}

func TestOverlongNamesAreRejected(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	long := strings.Repeat("é", 129) // characters, not bytes, are counted
	ok := strings.Repeat("é", 128)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/v1/workspaces"},
		{"POST", "/v1/projects"},
		{"POST", "/v1/projects/" + c.ProjectID + "/routers"},
		{"POST", "/v1/projects/" + c.ProjectID + "/keys"},
		{"POST", "/v1/projects/" + c.ProjectID + "/notification-channels"},
		{"PATCH", "/v1/projects/" + c.ProjectID},
		{"PATCH", "/v1/workspaces/" + c.WorkspaceID},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			body := map[string]any{"name": long, "mode": "static", "channel": "email", "config": map[string]string{}}
			r := call(t, tc.method, c.BaseURL+tc.path, c.AdminKey, body)
			wantStatus(t, r, 422)
			if f := r.json(t)["field"]; f != "name" {
				t.Fatalf("field %v", f)
			}
			body["name"] = ok
			if r := call(t, tc.method, c.BaseURL+tc.path, c.AdminKey, body); r.Status >= 300 {
				t.Fatalf("a 128-character name: %d %s", r.Status, r.Body)
			}
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		r := call(t, "POST", c.BaseURL+"/v1/workspaces", c.AdminKey, `{"name":"`+strings.Repeat("a", 2<<20)+`"}`)
		wantStatus(t, r, 413)
	})
	wantStatus(t, call(t, "GET", c.BaseURL+"/v1/workspaces", c.AdminKey, nil), 200)
}

func TestRouterLinksAndDeleteConflict(t *testing.T) {
	srv := localservertest.Start(t)
	key := srv.Credentials().AdminKey
	localservertest.Seed(t, srv, errorRateSeed)
	b2 := call(t, "POST", projectURL(srv, "/breakers"), key, validBreaker)
	wantStatus(t, b2, 201)
	b2id := b2.json(t)["breaker"].(map[string]any)["id"].(string)

	// Older clients send one breaker_id; newer ones a list.
	wantStatus(t, call(t, "POST", projectURL(srv, "/routers/rtr_b/breakers"), key, map[string]any{"breaker_id": b2id}), 200)
	r := call(t, "POST", projectURL(srv, "/routers/rtr_b/breakers"), key, map[string]any{"breaker_ids": []string{"errors"}})
	wantStatus(t, r, 200)
	router := r.json(t)["router"].(map[string]any)
	if router["breaker_count"] != 2.0 || len(router["breakers"].([]any)) != 2 {
		t.Fatalf("router = %v", router)
	}
	wantStatus(t, call(t, "POST", projectURL(srv, "/routers/rtr_b/breakers"), key, map[string]any{"breaker_ids": []string{"brk_nope"}}), 404)

	r = call(t, "DELETE", projectURL(srv, "/routers/rtr_b"), key, nil)
	wantStatus(t, r, 409)
	if r.errCode(t) != "router_has_breakers" {
		t.Fatalf("code %q", r.errCode(t))
	}
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/routers/rtr_b/breakers/"+b2id), key, nil), 204)
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/routers/rtr_b/breakers/"+b2id), key, nil), 404)
	r = call(t, "GET", projectURL(srv, "/breakers/errors"), key, nil)
	if ids := r.json(t)["breaker"].(map[string]any)["router_ids"]; fmt.Sprint(ids) != "[rtr_a rtr_b]" {
		t.Fatalf("router_ids = %v", ids)
	}
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/routers/rtr_b/breakers/errors"), key, nil), 204)
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/routers/rtr_b"), key, nil), 204)
	wantStatus(t, call(t, "GET", projectURL(srv, "/routers/rtr_b"), key, nil), 404)
}

func TestCRUDRoundTrips(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	key := c.AdminKey

	// Workspaces.
	r := call(t, "POST", c.BaseURL+"/v1/workspaces", key, map[string]string{"name": "Acme Corp"})
	wantStatus(t, r, 201)
	ws := r.json(t)
	if ws["slug"] != "acme-corp" || !strings.HasPrefix(ws["org_id"].(string), "org_") || ws["inserted_at"] == "" {
		t.Fatalf("workspace = %v", ws)
	}
	wsID := ws["id"].(string)
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/workspaces", key, map[string]string{"name": "x", "slug": "acme-corp"}), 409)
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/workspaces", key, map[string]string{"name": "x", "slug": "Bad Slug"}), 422)
	r = call(t, "PATCH", c.BaseURL+"/v1/workspaces/"+wsID, key, map[string]string{"name": "Acme"})
	wantStatus(t, r, 200)
	if r.json(t)["name"] != "Acme" {
		t.Fatalf("patched workspace = %s", r.Body)
	}
	if n := len(call(t, "GET", c.BaseURL+"/v1/workspaces", key, nil).json(t)["workspaces"].([]any)); n != 2 {
		t.Fatalf("%d workspaces, want 2", n)
	}

	// Projects, filtered by workspace; a workspace with projects cannot go.
	r = call(t, "POST", c.BaseURL+"/v1/projects", key, map[string]string{"name": "payments", "workspace_id": wsID})
	wantStatus(t, r, 201)
	pid := r.json(t)["project_id"].(string)
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/projects", key, map[string]string{"name": "x", "workspace_id": "ws_nope"}), 422)
	l := call(t, "GET", c.BaseURL+"/v1/projects?workspace_id="+wsID, key, nil).json(t)
	if l["count"] != 1.0 {
		t.Fatalf("projects of the workspace = %v", l)
	}
	wantStatus(t, call(t, "DELETE", c.BaseURL+"/v1/workspaces/"+wsID, key, nil), 409)
	r = call(t, "PATCH", c.BaseURL+"/v1/projects/"+pid, key, map[string]any{"slack_webhook_url": "https://hooks.example/x", "trace_id_url_template": "https://tr/{trace_id}"})
	wantStatus(t, r, 200)
	if m := r.json(t); m["slack_webhook_url"] != "https://hooks.example/x" || m["enable_signed_ingest"] != true {
		t.Fatalf("patched project = %v", m)
	}
	wantStatus(t, call(t, "PATCH", c.BaseURL+"/v1/projects/"+pid, key, map[string]any{"slack_webhook_url": "ftp://x"}), 422)
	wantStatus(t, call(t, "DELETE", c.BaseURL+"/v1/projects/"+pid, key, nil), 204)
	wantStatus(t, call(t, "GET", c.BaseURL+"/v1/projects/"+pid, key, nil), 404)
	wantStatus(t, call(t, "DELETE", c.BaseURL+"/v1/workspaces/"+wsID, key, nil), 204)

	// Breakers: PATCH, metadata merge, delete.
	r = call(t, "POST", projectURL(srv, "/breakers"), key, validBreaker)
	wantStatus(t, r, 201)
	bid := r.json(t)["breaker"].(map[string]any)["id"].(string)
	r = call(t, "PATCH", projectURL(srv, "/breakers/"+bid), key, map[string]any{"threshold": 900, "window_ms": 5000})
	wantStatus(t, r, 200)
	if b := r.json(t)["breaker"].(map[string]any); b["threshold"] != 900.0 || b["window_ms"] != 5000.0 || b["kind"] != "p95" {
		t.Fatalf("patched breaker = %v", b)
	}
	wantStatus(t, call(t, "PATCH", projectURL(srv, "/breakers/"+bid), key, map[string]any{"op": "eq"}), 422)
	wantStatus(t, call(t, "PATCH", projectURL(srv, "/breakers/"+bid+"/metadata"), key, map[string]any{"tier": "gold", "region": nil}), 200)
	b := call(t, "GET", projectURL(srv, "/breakers/"+bid), key, nil).json(t)["breaker"].(map[string]any)
	if fmt.Sprint(b["metadata"]) != "map[tier:gold]" {
		t.Fatalf("metadata = %v", b["metadata"])
	}
	wantStatus(t, call(t, "PATCH", projectURL(srv, "/breakers/"+bid+"/metadata"), key, map[string]any{"n": 1}), 422)
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/breakers/"+bid), key, nil), 204)
	wantStatus(t, call(t, "GET", projectURL(srv, "/breakers/"+bid), key, nil), 404)

	// Routers: PATCH and metadata.
	r = call(t, "POST", projectURL(srv, "/routers"), key, map[string]any{"router": map[string]any{"name": "r1", "mode": "canary", "enabled": false}})
	wantStatus(t, r, 201)
	rt := r.json(t)["router"].(map[string]any)
	if rt["mode"] != "canary" || rt["enabled"] != false {
		t.Fatalf("router = %v", rt)
	}
	rid := rt["id"].(string)
	wantStatus(t, call(t, "PATCH", projectURL(srv, "/routers/"+rid), key, map[string]any{"mode": "random"}), 422)
	wantStatus(t, call(t, "PATCH", projectURL(srv, "/routers/"+rid+"/metadata"), key, map[string]any{"env": "prod"}), 200)
	md := call(t, "GET", projectURL(srv, "/routers/metadata"), c.ProjectKey, nil).json(t)
	if fmt.Sprint(md["routers"]) != fmt.Sprintf("[map[id:%s metadata:map[env:prod] name:r1]]", rid) {
		t.Fatalf("routers metadata = %v", md)
	}

	// Notification channels.
	r = call(t, "POST", projectURL(srv, "/notification-channels"), key, map[string]any{"name": "ops", "channel": "slack", "config": map[string]string{"webhook_url": "https://hooks/x"}, "events": []string{"trip"}})
	wantStatus(t, r, 201)
	ch := r.json(t)
	chID := ch["id"].(string)
	if !strings.HasPrefix(chID, "nch_") || ch["project_id"] != c.ProjectID || ch["enabled"] != true {
		t.Fatalf("channel = %v", ch)
	}
	wantStatus(t, call(t, "POST", projectURL(srv, "/notification-channels"), key, map[string]any{"name": "x", "channel": "pigeon"}), 422)
	wantStatus(t, call(t, "POST", projectURL(srv, "/notification-channels"), key, map[string]any{"name": "x", "channel": "email", "events": []string{"boom"}}), 422)
	r = call(t, "PATCH", projectURL(srv, "/notification-channels/"+chID), key, map[string]any{"enabled": false, "events": []string{"trip", "recover"}})
	wantStatus(t, r, 200)
	if m := r.json(t); m["enabled"] != false || len(m["events"].([]any)) != 2 {
		t.Fatalf("patched channel = %v", m)
	}
	wantStatus(t, call(t, "POST", projectURL(srv, "/notification-channels/"+chID+"/test"), key, nil), 200)
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/notification-channels/"+chID), key, nil), 204)
	wantStatus(t, call(t, "GET", projectURL(srv, "/notification-channels/"+chID), key, nil), 404)

	// Unknown routes and methods answer JSON errors.
	r = call(t, "GET", c.BaseURL+"/v1/nothing", key, nil)
	wantStatus(t, r, 404)
	if r.errCode(t) != "not_found" {
		t.Fatalf("code %q", r.errCode(t))
	}
	r = call(t, "DELETE", c.BaseURL+"/v1/workspaces", key, nil)
	wantStatus(t, r, 405)
	if r.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("Allow = %q", r.Header.Get("Allow"))
	}
}

// Older clients read a breaker's router from router_id: it carries the first
// linked router beside router_ids.
func TestBreakerCarriesRouterIDForOlderClients(t *testing.T) {
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	r := call(t, "GET", projectURL(srv, "/breakers/errors"), c.AdminKey, nil)
	wantStatus(t, r, 200)
	b := r.json(t)["breaker"].(map[string]any)
	if b["router_id"] != "rtr_a" || fmt.Sprint(b["router_ids"]) != "[rtr_a]" {
		t.Fatalf("breaker router_id %v, router_ids %v; want rtr_a", b["router_id"], b["router_ids"])
	}
	list := call(t, "GET", projectURL(srv, "/breakers"), c.AdminKey, nil).json(t)["breakers"].([]any)
	if list[0].(map[string]any)["router_id"] != "rtr_a" {
		t.Fatalf("listed breaker %v", list[0])
	}
}

// A setting of the wrong JSON type is named as the request names it, in a
// create, a PATCH and a sync alike; a null keeps the setting.
func TestBreakerSettingTypeErrorsNameTheField(t *testing.T) {
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	key := srv.Credentials().AdminKey
	create := `{"name":"n","metric":"m","kind":"max","op":"gt","threshold":1,`
	tests := []struct {
		name, method, path, body string
		field                    string
	}{
		{"create", "POST", "/breakers", create + `"min_count":true}`, "min_count"},
		{"create ramp steps", "POST", "/breakers", create + `"recovery_allow_rate_ramp_steps":"x"}`, "recovery_allow_rate_ramp_steps"},
		{"patch", "PATCH", "/breakers/errors", `{"window_ms":"x"}`, "window_ms"},
		{"patch fraction", "PATCH", "/breakers/errors", `{"window_ms":1.5}`, "window_ms"},
		{"patch wrapped", "PATCH", "/breakers/errors", `{"breaker":{"half_open_backoff_cap_ms":"x"}}`, "half_open_backoff_cap_ms"},
		{"sync item", "PUT", "/breakers", `[` + create + `"cooldown_ms":"s"}]`, "breakers[0].cooldown_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, projectURL(srv, tt.path), key, tt.body)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if got := r.json(t)["field"]; got != tt.field {
				t.Errorf("field %v, want %q", got, tt.field)
			}
		})
	}
	r := call(t, "PATCH", projectURL(srv, "/breakers/errors"), key, `{"window_ms":null,"threshold":0.25}`)
	wantStatus(t, r, http.StatusOK)
	if b := r.json(t)["breaker"].(map[string]any); b["window_ms"] != 10_000.0 || b["threshold"] != 0.25 {
		t.Errorf("after a PATCH with a null window_ms: window_ms %v threshold %v, want 10000 and 0.25", b["window_ms"], b["threshold"])
	}
}
