package tripswitch_test

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testSecret is a well-formed ingest secret for tests.
const testSecret = "ik_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
const testKey = "eb_pk_test_0123456789"

// fakeServer is an httptest server speaking the runtime half of the
// protocol, for transport edge cases. It checks every ingest request the
// way the hosted service does, with its own HMAC code.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	batches     []ingestBatch
	ingestCodes []int // statuses to answer in turn before 202
	ingestHang  chan struct{}
	ingestGate  chan struct{} // when set, each ingest request waits for a value
	arrivals    int           // ingest requests received
	streams     []*fakeStream
	snapshot    []string // events sent on connect
	streamCode  int      // non-200 answer to the stream
	silent      bool     // accept streams but send nothing
	metaCodes   map[string]int
	metaHits    map[string]int
	metaBody    map[string]string
	etag        string
	connects    int
}

type ingestBatch struct {
	header  http.Header
	raw     []byte // gzipped body as received
	samples []map[string]any
}

type fakeStream struct {
	events chan string
	done   chan struct{}
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, metaCodes: map[string]int{}, metaHits: map[string]int{}, metaBody: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/projects/proj_test/breakers/state:stream", f.stream)
	mux.HandleFunc("POST /v1/projects/proj_test/ingest", f.ingest)
	mux.HandleFunc("GET /v1/projects/proj_test/breakers/metadata", f.metadata("breakers"))
	mux.HandleFunc("GET /v1/projects/proj_test/routers/metadata", f.metadata("routers"))
	mux.HandleFunc("GET /v1/projects/proj_test/status", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"open_count":1,"closed_count":4,"last_eval_ms":1764201600123}`)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		for _, s := range f.streams {
			s.close()
		}
		if f.ingestHang != nil {
			close(f.ingestHang)
			f.ingestHang = nil
		}
		f.mu.Unlock()
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (s *fakeStream) close() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

func (f *fakeServer) url() string { return f.srv.URL }

func (f *fakeServer) stream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		http.Error(w, `{"code":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.connects++
	code, silent, snapshot := f.streamCode, f.silent, append([]string(nil), f.snapshot...)
	st := &fakeStream{events: make(chan string, 64), done: make(chan struct{})}
	if code == 0 {
		f.streams = append(f.streams, st)
	}
	f.mu.Unlock()
	if code != 0 {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fl.Flush()
	if !silent {
		for _, ev := range snapshot {
			fmt.Fprintf(w, "data: %s\n\n", ev)
		}
		fl.Flush()
	}
	for {
		select {
		case ev := <-st.events:
			if _, err := io.WriteString(w, ev); err != nil {
				return
			}
			fl.Flush()
		case <-st.done:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// send writes raw text to every open stream.
func (f *fakeServer) sendRaw(text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.streams {
		select {
		case <-s.done:
		default:
			s.events <- text
		}
	}
}

func (f *fakeServer) send(breaker, state string, allowRate any) {
	b, _ := json.Marshal(map[string]any{"breaker": breaker, "state": state, "allow_rate": allowRate})
	f.sendRaw("data: " + string(b) + "\n\n")
}

// dropStreams ends every open stream (a torn connection).
func (f *fakeServer) dropStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.streams {
		s.close()
	}
	f.streams = nil
}

func (f *fakeServer) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects
}

func (f *fakeServer) ingest(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	gate := f.ingestGate
	f.arrivals++
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	hang := f.ingestHang
	code := 0
	if len(f.ingestCodes) > 0 {
		code, f.ingestCodes = f.ingestCodes[0], f.ingestCodes[1:]
	}
	f.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	if code != 0 {
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(code)
		return
	}
	if err := verifySignature(r.Header, raw); err != nil {
		f.t.Errorf("ingest: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		f.t.Errorf("ingest: body is not gzip: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		f.t.Errorf("ingest: bad gzip: %v", err)
		return
	}
	var doc struct {
		Samples []map[string]any `json:"samples"`
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		f.t.Errorf("ingest: bad JSON %q: %v", plain, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.batches = append(f.batches, ingestBatch{header: r.Header.Clone(), raw: raw, samples: doc.Samples})
	f.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// verifySignature checks X-EB-Signature the way PROTOCOL.md §3 says,
// written independently of the client's encoder.
func verifySignature(h http.Header, body []byte) error {
	ts := h.Get("X-EB-Timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad X-EB-Timestamp %q", ts)
	}
	if d := time.Since(time.UnixMilli(ms)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %v away from now", d)
	}
	key, _ := hex.DecodeString(strings.TrimPrefix(testSecret, "ik_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if got := h.Get("X-EB-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func (f *fakeServer) samples() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, b := range f.batches {
		out = append(out, b.samples...)
	}
	return out
}

func (f *fakeServer) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, b := range f.batches {
		out = append(out, len(b.samples))
	}
	return out
}

func (f *fakeServer) metadata(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.metaHits[kind]++
		code, body, etag := f.metaCodes[kind], f.metaBody[kind], f.etag
		f.mu.Unlock()
		if code != 0 {
			w.WriteHeader(code)
			return
		}
		if body == "" && kind == "breakers" {
			body = f.snapshotMetadata()
		}
		if body == "" {
			body = `{"` + kind + `":[]}`
		}
		if etag != "" {
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
		}
		io.WriteString(w, body)
	}
}

// snapshotMetadata lists the breakers of the snapshot, as the hosted
// service's metadata does.
func (f *fakeServer) snapshotMetadata() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []map[string]string
	for _, ev := range f.snapshot {
		var e struct{ Breaker string }
		if json.Unmarshal([]byte(ev), &e) == nil {
			list = append(list, map[string]string{"id": "brk_" + e.Breaker, "name": e.Breaker})
		}
	}
	b, _ := json.Marshal(map[string]any{"breakers": list})
	return string(b)
}

func (f *fakeServer) hits(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.metaHits[kind]
}

// eventually polls cond until it holds or the generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
