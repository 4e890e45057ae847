package localserver_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func TestIngestAcceptsAndKeepsSamples(t *testing.T) {
	srv, clock := start(t)
	c := srv.Credentials()
	// Unknown fields are ignored; tags and trace_id are kept; ts_ms 0 means now.
	stamp := clock.Now().UnixMilli() - 1234
	doc := `{"samples":[
		{"router_id":"rtr_1","metric":"latency","ts_ms":` + itoa(stamp) + `,"value":42.5,"ok":true,"tags":{"env":"prod"},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","extra":[1,2]},
		{"router_id":"rtr_1","metric":"latency","value":7,"ok":false}
	],"version":3}`
	r := ingestRaw(t, c.BaseURL, c.ProjectID, c.IngestSecret, gz(t, []byte(doc)), clock.Now())
	wantStatus(t, r, http.StatusAccepted)
	if m := r.json(t); m["accepted"] != 2.0 {
		t.Fatalf("response %v, want accepted 2", m)
	}
	got := srv.Samples(c.ProjectID)
	want := []localserver.Sample{
		{RouterID: "rtr_1", Metric: "latency", TsMs: stamp, Value: 42.5, OK: true, Tags: map[string]string{"env": "prod"}, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{RouterID: "rtr_1", Metric: "latency", TsMs: clock.Now().UnixMilli(), Value: 7},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("samples\n got %+v\nwant %+v", got, want)
	}
	// An uncompressed document (no Content-Encoding) is accepted too.
	plain := []byte(`{"samples":[{"router_id":"r","metric":"m","value":1,"ok":true}]}`)
	ts := itoa(clock.Now().UnixMilli())
	r = call(t, "POST", projectURL(srv, "/ingest"), "", plain, "X-EB-Timestamp", ts, "X-EB-Signature", sign(c.IngestSecret, ts, plain))
	wantStatus(t, r, http.StatusAccepted)
}

// zeros is a reader of n zero bytes that allocates nothing.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// gzipBomb returns a small gzip body that inflates to size MiB: one member
// of 1 MiB of zeros, repeated (gzip readers concatenate members).
func gzipBomb(t testing.TB, mib int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := io.Copy(zw, &zeros{n: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return bytes.Repeat(buf.Bytes(), mib)
}

func TestIngestRejectsBadInputAndKeepsServing(t *testing.T) {
	srv, clock := start(t)
	c := srv.Credentials()
	url := projectURL(srv, "/ingest")
	signed := func(body []byte, extra ...string) []string {
		ts := itoa(clock.Now().UnixMilli())
		return append([]string{"Content-Encoding", "gzip", "X-EB-Timestamp", ts, "X-EB-Signature", sign(c.IngestSecret, ts, body)}, extra...)
	}
	longTag := strings.Repeat("v", 257)
	manyTags := map[string]string{}
	for i := range 33 {
		manyTags[fmt.Sprint("k", i)] = "v"
	}
	sample := func(mut func(m map[string]any)) []byte {
		m := map[string]any{"router_id": "r", "metric": "m", "ts_ms": 1, "value": 1, "ok": true}
		mut(m)
		return gz(t, mustJSON(t, map[string]any{"samples": []any{map[string]any{"router_id": "r", "metric": "m"}, m}}))
	}

	cases := []struct {
		name      string
		body      []byte
		hdr       func([]byte) []string
		status    int
		code      string
		field     string
		chunked   bool
		bodyBytes int64 // a generated body of this many bytes instead of body
	}{
		{name: "gzip bomb", body: gzipBomb(t, 60), status: 413, code: "payload_too_large"},
		{name: "gzip bomb, unsigned", body: gzipBomb(t, 60), hdr: func([]byte) []string { return []string{"Content-Encoding", "gzip"} }, status: 413},
		{name: "100 MB body", bodyBytes: 100 << 20, status: 413, code: "payload_too_large"},
		{name: "100 MB chunked body", bodyBytes: 100 << 20, chunked: true, status: 413, code: "payload_too_large"},
		{name: "not gzip", body: []byte("{not gzip"), status: 400, code: "invalid_gzip"},
		{name: "truncated gzip", body: gz(t, []byte(`{"samples":[]}`))[:15], status: 400, code: "invalid_gzip"},
		{name: "bad JSON", body: gz(t, []byte(`{"samples":[{]}`)), status: 400, code: "invalid_json"},
		{name: "JSON of the wrong shape", body: gz(t, []byte(`{"samples":{"a":1}}`)), status: 400, code: "invalid_json"},
		{name: "value of the wrong type", body: gz(t, []byte(`{"samples":[{"router_id":"r","metric":"m","value":"x"}]}`)), status: 400, field: "samples[0].value"},
		{name: "missing router_id", body: sample(func(m map[string]any) { delete(m, "router_id") }), status: 400, field: "samples[1].router_id"},
		{name: "missing metric", body: sample(func(m map[string]any) { m["metric"] = "" }), status: 400, field: "samples[1].metric"},
		{name: "over-long router_id", body: sample(func(m map[string]any) { m["router_id"] = strings.Repeat("r", 129) }), status: 400, field: "samples[1].router_id"},
		{name: "over-long metric", body: sample(func(m map[string]any) { m["metric"] = strings.Repeat("m", 129) }), status: 400, field: "samples[1].metric"},
		{name: "over-long tag value", body: sample(func(m map[string]any) { m["tags"] = map[string]string{"k": longTag} }), status: 400, field: "samples[1].tags.k"},
		{name: "over-long tag key", body: sample(func(m map[string]any) { m["tags"] = map[string]string{strings.Repeat("k", 129): "v"} }), status: 400, field: "samples[1].tags"},
		{name: "too many tags", body: sample(func(m map[string]any) { m["tags"] = manyTags }), status: 400, field: "samples[1].tags"},
		{name: "over-long trace_id", body: sample(func(m map[string]any) { m["trace_id"] = strings.Repeat("a", 129) }), status: 400, field: "samples[1].trace_id"},
		{name: "brotli", body: []byte("x"), hdr: func(b []byte) []string { return signed(b, "Content-Encoding", "br") }, status: 415},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.bodyBytes > 0 {
				r = postGenerated(t, url, tc.bodyBytes, tc.chunked)
			} else {
				hdr := signed(tc.body)
				if tc.hdr != nil {
					hdr = tc.hdr(tc.body)
				}
				r = call(t, "POST", url, "", tc.body, hdr...)
			}
			wantStatus(t, r, tc.status)
			m := r.json(t)
			if tc.code != "" && m["code"] != tc.code {
				t.Errorf("code %v, want %s", m["code"], tc.code)
			}
			if tc.field != "" && m["field"] != tc.field {
				t.Errorf("field %v, want %s (%v)", m["field"], tc.field, m["message"])
			}
			// The server keeps serving, and nothing of a rejected batch is kept.
			wantStatus(t, call(t, "GET", projectURL(srv, "/status"), c.ProjectKey, nil), 200)
			if n := len(srv.Samples(c.ProjectID)); n != 0 {
				t.Fatalf("%d samples kept from rejected batches", n)
			}
		})
	}
}

// postGenerated posts n bytes that are never held in memory.
func postGenerated(t testing.TB, url string, n int64, chunked bool) response {
	t.Helper()
	var body io.Reader = &zeros{n: n}
	if chunked {
		body = io.MultiReader(body) // hides the length
	}
	req, _ := http.NewRequest("POST", url, body)
	if !chunked {
		req.ContentLength = n
	}
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %d bytes: %v", n, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func TestIngestWithoutSigningWhenDisabled(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	body := gz(t, []byte(`{"samples":[{"router_id":"r","metric":"m","value":1,"ok":true}]}`))
	wantStatus(t, call(t, "POST", projectURL(srv, "/ingest"), "", body, "Content-Encoding", "gzip"), 401)
	r := call(t, "PATCH", projectURL(srv, ""), c.AdminKey, map[string]any{"enable_signed_ingest": false})
	wantStatus(t, r, 200)
	if r.json(t)["enable_signed_ingest"] != false {
		t.Fatalf("project = %s", r.Body)
	}
	wantStatus(t, call(t, "POST", projectURL(srv, "/ingest"), "", body, "Content-Encoding", "gzip"), 202)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIngestIdempotencyKey(t *testing.T) {
	srv, clock := start(t)
	c := srv.Credentials()
	body := gz(t, []byte(`{"samples":[{"router_id":"r","metric":"m","value":1,"ok":true}]}`))
	ts := itoa(clock.Now().UnixMilli())
	hdr := []string{"Content-Encoding", "gzip", "X-EB-Timestamp", ts, "X-EB-Signature", sign(c.IngestSecret, ts, body), "Idempotency-Key", "batch-1"}
	first := call(t, "POST", projectURL(srv, "/ingest"), "", body, hdr...)
	wantStatus(t, first, http.StatusAccepted)
	again := call(t, "POST", projectURL(srv, "/ingest"), "", body, hdr...)
	wantStatus(t, again, http.StatusAccepted)
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("retried batch was not recognised")
	}
	if n := len(srv.Samples(c.ProjectID)); n != 1 {
		t.Fatalf("%d samples after a retried batch, want 1", n)
	}
}

func TestSamplesOutsideTheWindowAreRefusedAndCounted(t *testing.T) {
	// A server with the default window (localservertest widens it).
	clock := localservertest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	srv, err := localserver.New(localserver.Config{Now: clock.Now})
	must(t, err)
	must(t, srv.Start("127.0.0.1:0"))
	defer shutdown(t, srv)
	must(t, srv.Seed(srv.Credentials().ProjectID, errorRateSeed))
	c := srv.Credentials()
	now := clock.Now()
	batch := append(failing(3, "rtr_a", "req", now.Add(365*24*time.Hour)), failing(2, "rtr_a", "req", now.Add(-time.Hour))...)
	batch = append(batch, failing(4, "rtr_a", "req", now.Add(-time.Second))...)
	r := ingest(t, srv, now, batch...)
	wantStatus(t, r, http.StatusAccepted)
	if m := r.json(t); m["accepted"] != 4.0 || m["rejected"] != 5.0 {
		t.Fatalf("response %v, want accepted 4 and rejected 5", m)
	}
	if n := len(srv.Samples(c.ProjectID)); n != 4 {
		t.Fatalf("%d samples kept, want the 4 within the window", n)
	}
	// The window is configurable.
	srv2, clock2 := start(t, func(c *localserver.Config) { c.SampleWindow = time.Second })
	r = ingest(t, srv2, clock2.Now(), failing(1, "r", "m", clock2.Now().Add(2*time.Second))...)
	if m := r.json(t); m["accepted"] != 0.0 || m["rejected"] != 1.0 {
		t.Fatalf("response %v with a 1s window, want rejected 1", m)
	}
}

// A sample stamped ahead of the server's clock (within the window) counts as
// arriving now: it leaves the breaker's window as a current sample would, and
// never keeps a breaker open longer.
func TestFutureSamplesDoNotHoldABreakerOpen(t *testing.T) {
	srv, clock := start(t)
	seed := errorRateSeed
	seed.Breakers = append(seed.Breakers, localserver.SeedBreaker{
		Name: "control", Metric: "req", Kind: "error_rate", Op: "gt", Threshold: 0.5,
		WindowMs: 10_000, MinCount: 4, CooldownMs: 5_000, EvalIntervalMs: 1_000,
		HalfOpenConfirmationMs: 1_000, HalfOpenIndeterminatePolicy: "optimistic", RouterIDs: []string{"rtr_b"},
	})
	seed.Breakers[0].HalfOpenIndeterminatePolicy = "optimistic"
	localservertest.Seed(t, srv, seed)
	c := srv.Credentials()
	now := clock.Now()
	wantStatus(t, ingest(t, srv, now, failing(10, "rtr_a", "req", now.Add(4*time.Minute))...), http.StatusAccepted)
	wantStatus(t, ingest(t, srv, now, failing(10, "rtr_b", "req", now)...), http.StatusAccepted)
	for range 60 {
		clock.Advance(time.Second)
		srv.Evaluate()
		future, _, _ := srv.BreakerState(c.ProjectID, "errors")
		control, _, _ := srv.BreakerState(c.ProjectID, "control")
		if future != control {
			t.Fatalf("at %v: future-stamped breaker %s, control %s", clock.Now().Sub(now), future, control)
		}
	}
	if s, _, _ := srv.BreakerState(c.ProjectID, "errors"); s != "closed" {
		t.Fatalf("breaker %s a minute later, want closed", s)
	}
}

func TestUnsignedIngestCannotClaimAnIdempotencyKey(t *testing.T) {
	srv, clock := start(t)
	c := srv.Credentials()
	doc := gz(t, []byte(`{"samples":[{"router_id":"r","metric":"m","value":1,"ok":true}]}`))
	ts := itoa(clock.Now().UnixMilli())
	bad := call(t, "POST", projectURL(srv, "/ingest"), "", []byte("forged"), "Idempotency-Key", "batch-1",
		"X-EB-Timestamp", ts, "X-EB-Signature", "v1="+strings.Repeat("0", 64))
	wantStatus(t, bad, http.StatusUnauthorized)
	good := call(t, "POST", projectURL(srv, "/ingest"), "", doc, "Idempotency-Key", "batch-1", "Content-Encoding", "gzip",
		"X-EB-Timestamp", ts, "X-EB-Signature", sign(c.IngestSecret, ts, doc))
	wantStatus(t, good, http.StatusAccepted)
	again := call(t, "POST", projectURL(srv, "/ingest"), "", doc, "Idempotency-Key", "batch-1", "Content-Encoding", "gzip",
		"X-EB-Timestamp", ts, "X-EB-Signature", sign(c.IngestSecret, ts, doc))
	wantStatus(t, again, http.StatusAccepted)
	if again.Header.Get("Idempotent-Replayed") != "true" || len(srv.Samples(c.ProjectID)) != 1 {
		t.Fatalf("signed retry was not replayed: %v, %d samples", again.Header, len(srv.Samples(c.ProjectID)))
	}
}

// Requests that fail authentication never reach the idempotency records, so
// they cannot evict the admin's: a retried create replays its first answer.
func TestIngestFloodDoesNotEvictAdminIdempotencyRecords(t *testing.T) {
	srv, err := localserver.New(localserver.Config{})
	must(t, err)
	h := srv.Handler()
	c := srv.Credentials()
	do := func(method, path, key, idem string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Idempotency-Key", idem)
		req.Header.Set("X-EB-Timestamp", "1")
		req.Header.Set("X-EB-Signature", "v1=00")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	create := []byte(`{"name":"team"}`)
	first := do("POST", "/v1/workspaces", c.AdminKey, "create-team", create)
	if first.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", first.Code, first.Body)
	}
	for i := range 10_001 {
		if r := do("POST", "/v1/projects/"+c.ProjectID+"/ingest", "", "flood-"+itoa(int64(i)), []byte("{}")); r.Code != http.StatusUnauthorized {
			t.Fatalf("unsigned ingest: %d", r.Code)
		}
	}
	retry := do("POST", "/v1/workspaces", c.AdminKey, "create-team", create)
	if retry.Header().Get("Idempotent-Replayed") != "true" || retry.Body.String() != first.Body.String() {
		t.Fatalf("retried create was not replayed: %d %s", retry.Code, retry.Body)
	}
}
