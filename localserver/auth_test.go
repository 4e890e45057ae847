package localserver_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

// endpoint is one route of the API with a body that is valid for it.
type endpoint struct {
	method, path string // path with {p} for the project ID
	body         any
}

var adminEndpoints = []endpoint{
	{"GET", "/v1/workspaces", nil},
	{"POST", "/v1/workspaces", map[string]string{"name": "w"}},
	{"GET", "/v1/workspaces/{ws}", nil},
	{"PATCH", "/v1/workspaces/{ws}", map[string]string{"name": "w2"}},
	{"GET", "/v1/projects", nil},
	{"POST", "/v1/projects", map[string]string{"name": "p"}},
	{"GET", "/v1/projects/{p}", nil},
	{"PATCH", "/v1/projects/{p}", map[string]string{"name": "p2"}},
	{"GET", "/v1/projects/{p}/keys", nil},
	{"POST", "/v1/projects/{p}/keys", map[string]string{"name": "k"}},
	{"GET", "/v1/projects/{p}/breakers", nil},
	{"POST", "/v1/projects/{p}/breakers", map[string]any{"name": "x", "metric": "m", "kind": "count", "op": "gt", "threshold": 1}},
	{"GET", "/v1/projects/{p}/breakers/errors", nil},
	{"PATCH", "/v1/projects/{p}/breakers/errors", map[string]any{"threshold": 0.6}},
	{"PATCH", "/v1/projects/{p}/breakers/errors/metadata", map[string]string{"a": "b"}},
	{"GET", "/v1/projects/{p}/routers", nil},
	{"POST", "/v1/projects/{p}/routers", map[string]string{"name": "r", "mode": "static"}},
	{"GET", "/v1/projects/{p}/routers/rtr_a", nil},
	{"PATCH", "/v1/projects/{p}/routers/rtr_a", map[string]string{"name": "a2"}},
	{"POST", "/v1/projects/{p}/routers/rtr_b/breakers", map[string]any{"breaker_ids": []string{"errors"}}},
	{"PATCH", "/v1/projects/{p}/routers/rtr_a/metadata", map[string]string{"a": "b"}},
	{"GET", "/v1/projects/{p}/notification-channels", nil},
	{"POST", "/v1/projects/{p}/notification-channels", map[string]any{"name": "n", "channel": "webhook", "config": map[string]string{"url": "http://127.0.0.1/x"}}},
	{"GET", "/v1/projects/{p}/events", nil},
	{"POST", "/v1/projects/{p}/ingest_secret/rotate", nil},
	{"PUT", "/v1/projects/{p}/breakers", map[string]any{"breakers": []any{map[string]any{"name": "errors", "metric": "req", "kind": "error_rate", "op": "gt", "threshold": 0.5}}}},
	// Deletes and calls on objects that do not exist: authentication comes
	// first, so a valid key gets 404 and the others 401/403.
	{"DELETE", "/v1/workspaces/ws_missing", nil},
	{"DELETE", "/v1/projects/proj_missing", nil},
	{"DELETE", "/v1/projects/{p}/keys/key_missing", nil},
	{"DELETE", "/v1/projects/{p}/breakers/brk_missing", nil},
	{"DELETE", "/v1/projects/{p}/routers/rtr_missing", nil},
	{"DELETE", "/v1/projects/{p}/routers/rtr_a/breakers/brk_missing", nil},
	{"GET", "/v1/projects/{p}/notification-channels/nch_missing", nil},
	{"PATCH", "/v1/projects/{p}/notification-channels/nch_missing", map[string]any{"enabled": false}},
	{"DELETE", "/v1/projects/{p}/notification-channels/nch_missing", nil},
	{"POST", "/v1/projects/{p}/notification-channels/nch_missing/test", nil},
}

// stateEndpoints read breaker state: the admin key and the project's own
// keys are accepted, as the published SDKs use both.
var stateEndpoints = []endpoint{
	{"GET", "/v1/projects/{p}/breakers/errors/state", nil},
	{"POST", "/v1/projects/{p}/breakers/state:batch", map[string]any{}},
}

var runtimeEndpoints = []endpoint{
	{"GET", "/v1/projects/{p}/breakers/metadata", nil},
	{"GET", "/v1/projects/{p}/routers/metadata", nil},
	{"GET", "/v1/projects/{p}/status", nil},
}

func (e endpoint) url(base, project, ws string) string {
	p := strings.ReplaceAll(e.path, "{p}", project)
	return base + strings.ReplaceAll(p, "{ws}", ws)
}

// TestAuthPerEndpoint checks every endpoint with every kind of credential.
func TestAuthPerEndpoint(t *testing.T) {
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, errorRateSeed)
	c := srv.Credentials()
	// A second project with its own key.
	otherKey := newProjectWithKey(t, srv)

	creds := []struct {
		name                   string
		key                    string
		admin, runtime_, state int
	}{
		{"none", "", 401, 401, 401},
		{"unknown key", "eb_pk_0000000000000000000000000000000000000000", 401, 401, 401},
		{"other project's key", otherKey, 403, 403, 403},
		{"project key", c.ProjectKey, 403, 0, 0},
		{"admin key", c.AdminKey, 0, 403, 0},
	}
	for _, cr := range creds {
		for _, ep := range adminEndpoints {
			t.Run("admin/"+cr.name+"/"+ep.method+ep.path, func(t *testing.T) {
				r := call(t, ep.method, ep.url(c.BaseURL, c.ProjectID, c.WorkspaceID), cr.key, ep.body)
				checkAuth(t, r, cr.admin)
			})
		}
		for _, ep := range runtimeEndpoints {
			t.Run("runtime/"+cr.name+"/"+ep.method+ep.path, func(t *testing.T) {
				r := call(t, ep.method, ep.url(c.BaseURL, c.ProjectID, c.WorkspaceID), cr.key, ep.body)
				checkAuth(t, r, cr.runtime_)
			})
		}
		for _, ep := range stateEndpoints {
			t.Run("state/"+cr.name+"/"+ep.method+ep.path, func(t *testing.T) {
				r := call(t, ep.method, ep.url(c.BaseURL, c.ProjectID, c.WorkspaceID), cr.key, ep.body)
				checkAuth(t, r, cr.state)
			})
		}
		t.Run("stream/"+cr.name, func(t *testing.T) {
			url := c.BaseURL + "/v1/projects/" + c.ProjectID + "/breakers/state:stream"
			if cr.runtime_ == 0 {
				st := openStream(t, c.BaseURL, c.ProjectID, cr.key)
				st.next()
				return
			}
			checkAuth(t, call(t, "GET", url, cr.key, nil), cr.runtime_)
		})
	}
}

func checkAuth(t *testing.T, r response, want int) {
	t.Helper()
	if want == 0 {
		if r.Status == 401 || r.Status == 403 || r.Status >= 500 {
			t.Fatalf("status %d with a valid key: %s", r.Status, r.Body)
		}
		return
	}
	wantStatus(t, r, want)
	code := map[int]string{401: "unauthorized", 403: "forbidden"}[want]
	if got := r.errCode(t); got != code {
		t.Fatalf("code %q, want %q", got, code)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Fatal("error response without X-Request-ID")
	}
}

// newProjectWithKey creates a second project and returns a key of it.
func newProjectWithKey(t testing.TB, srv *localserver.Server) string {
	t.Helper()
	c := srv.Credentials()
	r := call(t, "POST", c.BaseURL+"/v1/projects", c.AdminKey, map[string]string{"name": "other"})
	wantStatus(t, r, http.StatusCreated)
	id := r.json(t)["project_id"].(string)
	k := call(t, "POST", c.BaseURL+"/v1/projects/"+id+"/keys", c.AdminKey, map[string]string{"name": "k"})
	wantStatus(t, k, http.StatusCreated)
	return k.json(t)["key"].(string)
}

func TestIngestAuth(t *testing.T) {
	srv, clock := start(t)
	c := srv.Credentials()
	doc := []byte(`{"samples":[{"router_id":"r","metric":"m","ts_ms":1,"value":1,"ok":true}]}`)
	body := gz(t, doc)
	url := c.BaseURL + "/v1/projects/" + c.ProjectID + "/ingest"

	// Another project and its secret.
	r := call(t, "POST", c.BaseURL+"/v1/projects", c.AdminKey, map[string]string{"name": "other"})
	wantStatus(t, r, http.StatusCreated)
	otherID := r.json(t)["project_id"].(string)
	otherSecret, err := srv.IngestSecret(otherID)
	if err != nil {
		t.Fatal(err)
	}

	now := clock.Now()
	ts := func(d time.Duration) string { return itoa(now.Add(d).UnixMilli()) }
	cases := []struct {
		name string
		hdr  []string
		want int
	}{
		{"valid", []string{"X-EB-Timestamp", ts(0), "X-EB-Signature", sign(c.IngestSecret, ts(0), body)}, 202},
		{"valid within window", []string{"X-EB-Timestamp", ts(-4 * time.Minute), "X-EB-Signature", sign(c.IngestSecret, ts(-4*time.Minute), body)}, 202},
		{"no signature", []string{"X-EB-Timestamp", ts(0)}, 401},
		{"no timestamp", []string{"X-EB-Signature", sign(c.IngestSecret, ts(0), body)}, 401},
		{"replayed outside window", []string{"X-EB-Timestamp", ts(-6 * time.Minute), "X-EB-Signature", sign(c.IngestSecret, ts(-6*time.Minute), body)}, 401},
		{"from the future", []string{"X-EB-Timestamp", ts(6 * time.Minute), "X-EB-Signature", sign(c.IngestSecret, ts(6*time.Minute), body)}, 401},
		{"other project's secret", []string{"X-EB-Timestamp", ts(0), "X-EB-Signature", sign(otherSecret, ts(0), body)}, 401},
		{"signature of another timestamp", []string{"X-EB-Timestamp", ts(time.Second), "X-EB-Signature", sign(c.IngestSecret, ts(0), body)}, 401},
		{"garbage signature", []string{"X-EB-Timestamp", ts(0), "X-EB-Signature", "v1=zz"}, 401},
		{"unversioned signature", []string{"X-EB-Timestamp", ts(0), "X-EB-Signature", strings.TrimPrefix(sign(c.IngestSecret, ts(0), body), "v1=")}, 401},
		{"seconds timestamp", []string{"X-EB-Timestamp", itoa(now.Unix()), "X-EB-Signature", sign(c.IngestSecret, itoa(now.Unix()), body)}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "POST", url, "", body, append([]string{"Content-Encoding", "gzip"}, tc.hdr...)...)
			wantStatus(t, r, tc.want)
			if tc.want == 401 && strings.Contains(string(r.Body), "v1=") {
				t.Fatalf("error echoes a signature: %s", r.Body)
			}
		})
	}
	t.Run("unknown project", func(t *testing.T) {
		r := ingestRaw(t, c.BaseURL, "proj_nope", c.IngestSecret, body, now)
		wantStatus(t, r, 404)
	})
	t.Run("valid for the other project", func(t *testing.T) {
		wantStatus(t, ingestRaw(t, c.BaseURL, otherID, otherSecret, body, now), 202)
	})
}

func TestRotatedSecretTakesEffectAtOnce(t *testing.T) {
	srv, clock := start(t)
	c := srv.Credentials()
	body := gz(t, []byte(`{"samples":[]}`))
	wantStatus(t, ingestRaw(t, c.BaseURL, c.ProjectID, c.IngestSecret, body, clock.Now()), 202)

	r := call(t, "POST", projectURL(srv, "/ingest_secret/rotate"), c.AdminKey, nil)
	wantStatus(t, r, 200)
	fresh := r.json(t)["ingest_secret"].(string)
	if len(fresh) != 64 || fresh == c.IngestSecret {
		t.Fatalf("rotated secret %d chars, same as before: %v", len(fresh), fresh == c.IngestSecret)
	}
	wantStatus(t, ingestRaw(t, c.BaseURL, c.ProjectID, c.IngestSecret, body, clock.Now()), 401)
	wantStatus(t, ingestRaw(t, c.BaseURL, c.ProjectID, fresh, body, clock.Now()), 202)
	if got := srv.Credentials().IngestSecret; got != fresh {
		t.Fatal("Credentials does not report the rotated secret")
	}
}

func TestDeletedKeyStopsWorking(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	r := call(t, "POST", projectURL(srv, "/keys"), c.AdminKey, map[string]string{"name": "ci"})
	wantStatus(t, r, 201)
	created := r.json(t)
	key, id := created["key"].(string), created["id"].(string)
	if !strings.HasPrefix(key, "eb_pk_") || !strings.HasPrefix(key, created["key_prefix"].(string)) {
		t.Fatalf("created key %v", created)
	}
	wantStatus(t, call(t, "GET", projectURL(srv, "/status"), key, nil), 200)
	list := call(t, "GET", projectURL(srv, "/keys"), c.AdminKey, nil)
	if strings.Contains(string(list.Body), key) {
		t.Fatal("key list shows full keys")
	}
	if list.json(t)["count"] != 2.0 {
		t.Fatalf("keys = %s", list.Body)
	}
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/keys/"+id), c.AdminKey, nil), 204)
	wantStatus(t, call(t, "GET", projectURL(srv, "/status"), key, nil), 401)
	wantStatus(t, call(t, "DELETE", projectURL(srv, "/keys/"+id), c.AdminKey, nil), 404)
}

func TestMalformedAuthorization(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	for _, h := range []string{"Basic abc", "Bearer", "Bearer    ", c.AdminKey, "bearer " + c.AdminKey + "x"} {
		r := call(t, "GET", c.BaseURL+"/v1/workspaces", "", nil, "Authorization", h)
		wantStatus(t, r, 401)
		if strings.Contains(string(r.Body), c.AdminKey) {
			t.Fatal("error body echoes the key")
		}
	}
	// The scheme is case-insensitive.
	wantStatus(t, call(t, "GET", c.BaseURL+"/v1/workspaces", "", nil, "Authorization", "bearer "+c.AdminKey), 200)
}

func itoa(n int64) string { return strconvFormat(n) }
