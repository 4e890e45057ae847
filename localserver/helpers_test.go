package localserver_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// errCode returns the "code" of an error body.
func (r response) errCode(t testing.TB) string {
	t.Helper()
	c, _ := r.json(t)["code"].(string)
	return c
}

// call sends one request with an optional bearer key and JSON body.
func call(t testing.TB, method, url, key string, body any, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

func wantStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, truncateBody(r.Body))
	}
}

func truncateBody(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "…"
	}
	return string(b)
}

// gz compresses a document.
func gz(t testing.TB, doc []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(doc); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sign(secretHex, ts string, body []byte) string {
	key, _ := hex.DecodeString(secretHex)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// ingestRaw posts a body (already encoded) with a signature made with
// secret at time ts.
func ingestRaw(t testing.TB, baseURL, projectID, secret string, body []byte, ts time.Time) response {
	t.Helper()
	tss := strconv.FormatInt(ts.UnixMilli(), 10)
	return call(t, http.MethodPost, baseURL+"/v1/projects/"+projectID+"/ingest", "", body,
		"Content-Encoding", "gzip", "X-EB-Timestamp", tss, "X-EB-Signature", sign(secret, tss, body))
}

// ingest sends samples to the default project, signed, at time now.
func ingest(t testing.TB, srv *localserver.Server, now time.Time, samples ...localserver.Sample) response {
	t.Helper()
	c := srv.Credentials()
	doc, err := json.Marshal(map[string]any{"samples": samples})
	if err != nil {
		t.Fatal(err)
	}
	return ingestRaw(t, c.BaseURL, c.ProjectID, c.IngestSecret, gz(t, doc), now)
}

// sseStream reads a state stream.
type sseStream struct {
	t      testing.TB
	resp   *http.Response
	cancel context.CancelFunc
	events chan map[string]any
	lines  chan string
	done   chan struct{}
}

// openStream connects to the project's state stream with key.
func openStream(t testing.TB, baseURL, projectID, key string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/projects/"+projectID+"/breakers/state:stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("stream: status %d: %s", resp.StatusCode, b)
	}
	s := &sseStream{t: t, resp: resp, cancel: cancel, events: make(chan map[string]any, 1024),
		lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			select {
			case s.lines <- line:
			default:
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					m = map[string]any{"invalid": data}
				}
				s.events <- m
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
	<-s.done
}

// next returns the next event, failing after a generous deadline.
func (s *sseStream) next() map[string]any {
	s.t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(20 * time.Second):
		s.t.Fatal("no stream event within 20s")
		return nil
	}
}

// ended reports whether the server closed the stream, waiting generously.
func (s *sseStream) ended() bool {
	select {
	case <-s.done:
		return true
	case <-time.After(20 * time.Second):
		return false
	}
}

// start starts a test server with an injected clock.
func start(t testing.TB, opts ...func(*localserver.Config)) (*localserver.Server, *localservertest.Clock) {
	t.Helper()
	clock := localservertest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	opts = append([]func(*localserver.Config){localservertest.WithClock(clock)}, opts...)
	return localservertest.Start(t, opts...), clock
}

func projectURL(srv *localserver.Server, suffix string) string {
	c := srv.Credentials()
	return c.BaseURL + "/v1/projects/" + c.ProjectID + suffix
}

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }

func jsonString(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// syncWriter is a bytes.Buffer safe for concurrent use.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
