package tripswitch_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestWrongIngestSecretIsNotSilent runs a client with a wrong ingest
// secret against the local server: Flush and Close return a
// *DeliveryError naming the refusal, and Stats shows it.
func TestWrongIngestSecretIsNotSilent(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	wrong := strings.Repeat("0", 64)
	if creds.IngestSecret == wrong {
		wrong = strings.Repeat("1", 64)
	}
	c, err := tripswitch.NewClient(context.Background(), creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL), tripswitch.WithIngestSecret(wrong),
		tripswitch.WithMetadataSyncInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, c)
	if err := c.Report(context.Background(), tripswitch.Sample{RouterID: "rtr_1", Metric: "latency", Value: 1, OK: true}); err != nil {
		t.Fatal(err)
	}
	err = c.Flush(context.Background())
	var de *tripswitch.DeliveryError
	if !errors.As(err, &de) || de.StatusCode != http.StatusUnauthorized || de.Code != "unauthorized" || de.Message == "" || de.Samples != 1 || de.Retrying {
		t.Fatalf("Flush = %#v, want a *DeliveryError: 401 unauthorized with the server's message, 1 sample", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), creds.IngestSecret) {
		t.Fatalf("error shows a secret: %v", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Dropped != 1 || s.Delivered != 0 || !errors.As(s.LastDeliveryError, &de) || de.StatusCode != 401 {
		t.Fatalf("stats %+v", s)
	}
	// A second sample is refused the same way, and Close says so.
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "rtr_1", Metric: "latency", Value: 2, OK: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); !errors.As(err, &de) || de.StatusCode != 401 {
		t.Fatalf("Close = %v, want the 401 refusal", err)
	}
}

// refusingServer answers ingest like the local server, but refuses with
// 400 any batch holding a sample whose value is bad, naming it.
type refusingServer struct {
	mu       sync.Mutex
	bad      float64
	accepted []float64
	requests int
}

func (r *refusingServer) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		plain, _ := io.ReadAll(zr)
		var doc struct {
			Samples []struct {
				Value float64 `json:"value"`
			} `json:"samples"`
		}
		if err := json.NewDecoder(bytes.NewReader(plain)).Decode(&doc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		for _, s := range doc.Samples {
			if s.Value == r.bad {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"code":"bad_request","message":"samples[3].tags.k: must be at most 256 characters"}`)
				return
			}
		}
		for _, s := range doc.Samples {
			r.accepted = append(r.accepted, s.Value)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRefusedBatchIsSplit: one sample the server refuses costs only that
// sample, not its batch of 500.
func TestRefusedBatchIsSplit(t *testing.T) {
	rs := &refusingServer{bad: 137}
	srv := rs.start(t)
	c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL(srv.URL),
		tripswitch.WithFlushInterval(time.Hour), tripswitch.WithMetadataSyncInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, c)
	for i := range 500 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(i), OK: true})
	}
	err = c.Flush(context.Background())
	var de *tripswitch.DeliveryError
	if !errors.As(err, &de) || de.StatusCode != 400 || de.Code != "bad_request" || de.Samples != 1 ||
		!strings.Contains(de.Message, "samples[3].tags.k") {
		t.Fatalf("Flush = %v, want a 400 refusal of 1 sample with the server's code and message", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Delivered != 499 || s.Dropped != 1 || s.Buffered != 0 {
		t.Fatalf("stats %+v, want 499 delivered and only the bad sample dropped", s)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.accepted) != 499 {
		t.Fatalf("server accepted %d samples", len(rs.accepted))
	}
	if rs.requests > 1+2*9+2 { // the batch, then two halves per level down to one sample
		t.Fatalf("%d requests to isolate one sample of 500", rs.requests)
	}
	t.Logf("%d requests to isolate one refused sample of 500", rs.requests)
	// The refusal is reported once: the next Flush has nothing to say.
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("second Flush = %v", err)
	}
}

// TestRefusalStatuses: each refusing status drops its batch and is
// returned by Flush with the server's code and message; retryable ones
// keep the samples.
func TestRefusalStatuses(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 413} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(code)
				io.WriteString(w, `{"code":"nope","message":"refused\nwith eb_pk_leaked0123 inside"}`)
			}))
			defer srv.Close()
			c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL(srv.URL),
				tripswitch.WithFlushInterval(time.Hour), tripswitch.WithMetadataSyncInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			defer closeClient(t, c)
			for range 4 {
				_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
			}
			err = c.Flush(context.Background())
			var de *tripswitch.DeliveryError
			if !errors.As(err, &de) || de.StatusCode != code || de.Code != "nope" || de.Samples != 4 {
				t.Fatalf("Flush = %v", err)
			}
			if strings.Contains(err.Error(), "eb_pk_leaked") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("server text not cleaned: %q", err)
			}
			if s := c.Stats(); s.Dropped != 4 || s.Buffered != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestWireFormat(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f,
		tripswitch.WithGlobalTags(map[string]string{"env": "prod", "region": "eu"}),
		tripswitch.WithTraceIDExtractor(func(ctx context.Context) string { return "4bf92f3577b34da6a3ce929d0e0e4736" }),
	)
	before := time.Now().UnixMilli()
	_, err := tripswitch.Execute(c, context.Background(), func() (string, error) {
		time.Sleep(20 * time.Millisecond)
		return "ok", errors.New("upstream failed")
	},
		tripswitch.WithBreakers("checkout"),
		tripswitch.WithRouter("rtr_checkout"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
		tripswitch.WithMetric("bytes", 4096),
		tripswitch.WithMetric("depth", func() float64 { return 42.5 }),
		tripswitch.WithTag("region", "us"),
		tripswitch.WithTags(map[string]string{"quote": "a\"b\\c\n"}),
	)
	if err == nil {
		t.Fatal("task error lost")
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	if len(f.batches) != 1 {
		t.Fatalf("batches = %d", len(f.batches))
	}
	b := f.batches[0]
	f.mu.Unlock()
	for h, want := range map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip", "Authorization": ""} {
		if got := b.header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if !strings.HasPrefix(b.header.Get("X-EB-Signature"), "v1=") {
		t.Errorf("signature header %q", b.header.Get("X-EB-Signature"))
	}
	if len(b.samples) != 3 {
		t.Fatalf("samples = %d, want 3", len(b.samples))
	}
	byMetric := map[string]map[string]any{}
	for _, s := range b.samples {
		byMetric[s["metric"].(string)] = s
	}
	lat := byMetric["latency"]
	if v := num(t, lat["value"]); v < 20 || v > 10_000 {
		t.Errorf("latency value %v ms", v)
	}
	if v := num(t, byMetric["bytes"]["value"]); v != 4096 {
		t.Errorf("bytes = %v", v)
	}
	if v := num(t, byMetric["depth"]["value"]); v != 42.5 {
		t.Errorf("depth = %v", v)
	}
	for _, s := range b.samples {
		if s["router_id"] != "rtr_checkout" || s["ok"] != false || s["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("sample %v", s)
		}
		if ts := int64(num(t, s["ts_ms"])); ts < before || ts > before+5000 {
			t.Errorf("ts_ms %d not the task start (%d)", ts, before)
		}
		if ts := num(t, s["ts_ms"]); ts != num(t, lat["ts_ms"]) {
			t.Errorf("samples of one call have different timestamps")
		}
		tags := s["tags"].(map[string]any)
		if tags["env"] != "prod" || tags["region"] != "us" || tags["quote"] != "a\"b\\c\n" || len(tags) != 3 {
			t.Errorf("tags = %v", tags)
		}
		for k := range s {
			switch k {
			case "router_id", "metric", "ts_ms", "value", "ok", "tags", "trace_id":
			default:
				t.Errorf("unexpected field %q", k)
			}
		}
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Delivered != 3 || s.LastSuccessfulFlush.IsZero() {
		t.Fatalf("stats %+v", s)
	}
}

func TestSampleWithoutTagsOrTraceOmitsThem(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	if err := c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := f.samples()
	if len(got) != 1 {
		t.Fatalf("samples %v", got)
	}
	if _, ok := got[0]["tags"]; ok {
		t.Error("empty tags sent")
	}
	if _, ok := got[0]["trace_id"]; ok {
		t.Error("empty trace_id sent")
	}
}

func TestBatchingBySize(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithBatchSize(10), tripswitch.WithFlushInterval(time.Hour))
	for i := range 25 {
		if err := c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(i), OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "two full batches", func() bool { return len(f.batchSizes()) >= 2 })
	time.Sleep(50 * time.Millisecond)
	if got := f.batchSizes(); len(got) != 2 || got[0] != 10 || got[1] != 10 {
		t.Fatalf("batches %v, want [10 10] with 5 still buffered", got)
	}
	if s := c.Stats(); s.Buffered != 5 {
		t.Fatalf("buffered = %d", s.Buffered)
	}
}

func TestBatchingByInterval(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithFlushInterval(50*time.Millisecond))
	for range 3 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	}
	eventually(t, "interval flush", func() bool { return len(f.samples()) == 3 })
	if got := f.batchSizes(); len(got) != 1 {
		t.Fatalf("batches %v, want one", got)
	}
}

// checkNewest checks the samples kept from a buffer of capacity that
// overflowed while one goroutine produced values 0 … produced-1: they are
// oldest first, and recent. The buffer's
// shards each drop their own oldest, so the samples kept are the newest
// give or take a few per shard; 8×capacity is far beyond that.
func checkNewest(t *testing.T, got []map[string]any, produced, capacity int) {
	t.Helper()
	for i, smp := range got {
		v := num(t, smp["value"])
		if v < float64(produced-8*capacity) {
			t.Fatalf("sample %d has value %v: an old sample survived the overflow of %d", i, v, produced)
		}
		if i > 0 && num(t, smp["ts_ms"]) < num(t, got[i-1]["ts_ms"]) {
			t.Fatalf("sample %d is older than the one before it: not oldest first", i)
		}
	}
}

func TestOverflowDropsOldest(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithBufferCapacity(100), tripswitch.WithBatchSize(1000), tripswitch.WithFlushInterval(time.Hour))
	for i := range 2500 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(i), OK: true})
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Produced != 2500 || s.Dropped != 2400 || s.Buffered != 100 {
		t.Fatalf("stats %+v, want 2400 dropped and 100 buffered", s)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := f.samples()
	if len(got) != 100 {
		t.Fatalf("delivered %d", len(got))
	}
	checkNewest(t, got, 2500, 100)
	s = c.Stats()
	checkIdentity(t, s)
	if s.Delivered != 100 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRetryAfterServerErrors(t *testing.T) {
	f := newFakeServer(t)
	f.ingestCodes = []int{500, 503, 429, 502}
	c := newTestClient(t, f, tripswitch.WithBatchSize(20), tripswitch.WithFlushInterval(20*time.Millisecond))
	for i := range 50 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(i), OK: true})
		checkIdentity(t, c.Stats())
	}
	eventually(t, "every sample delivered after the burst", func() bool {
		s := c.Stats()
		checkIdentity(t, s)
		return s.Delivered == 50
	})
	s := c.Stats()
	if s.Dropped != 0 || s.FlushFailures != 4 {
		t.Fatalf("stats %+v, want 0 dropped and 4 failures", s)
	}
	seen := map[float64]bool{}
	for _, smp := range f.samples() {
		seen[num(t, smp["value"])] = true
	}
	if len(seen) != 50 {
		t.Fatalf("%d distinct samples at the server, want 50", len(seen))
	}
}

func TestClientErrorDropsBatch(t *testing.T) {
	f := newFakeServer(t)
	f.ingestCodes = []int{403}
	var results []tripswitch.FlushResult
	c := newTestClient(t, f, tripswitch.WithHooks(tripswitch.Hooks{Flush: func(r tripswitch.FlushResult) { results = append(results, r) }}))
	for range 3 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	}
	err := c.Flush(context.Background())
	var de *tripswitch.DeliveryError
	if !errors.As(err, &de) || de.StatusCode != 403 || de.Samples != 3 || de.Retrying {
		t.Fatalf("Flush = %v, want a *DeliveryError for 3 samples refused with 403", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Dropped != 3 || s.Buffered != 0 || !errors.As(s.LastDeliveryError, &de) {
		t.Fatalf("stats %+v, want the 403'd batch dropped and its error kept", s)
	}
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].StatusCode != 403 || results[0].Retrying || results[1].Err != nil {
		t.Fatalf("flush results %+v", results)
	}
}

// TestFullBufferHeap measures the live heap of a full default buffer of
// samples with two tags and a trace ID each.
func TestFullBufferHeap(t *testing.T) {
	f := newFakeServer(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before) // before the client: its ring counts too
	c := newTestClient(t, f, tripswitch.WithFlushInterval(time.Hour), tripswitch.WithBatchSize(1<<20))
	rep, err := c.NewReporter("rtr_checkout", "latency", map[string]string{"env": "prod", "region": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tripswitch.DefaultBufferCapacity {
		trace := fmt.Sprintf("%032x", i)
		_ = rep.Report(context.Background(), time.Time{}, float64(i), true, trace)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	s := c.Stats()
	if s.Buffered != tripswitch.DefaultBufferCapacity {
		t.Fatalf("buffered %d", s.Buffered)
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("full buffer: %d bytes live (%.1f bytes/sample)", grew, float64(grew)/float64(s.Buffered))
	if grew > 2<<20 {
		t.Fatalf("full buffer holds %d bytes, want ≤ 2 MiB", grew)
	}
	runtime.KeepAlive(c)
}

// TestOverflowDuringDelivery overflows the buffer while a batch is in
// flight (the only one allowed): the batch's samples count as delivered once the server accepts
// them, every counter only grows, and the identity holds throughout.
func TestOverflowDuringDelivery(t *testing.T) {
	f := newFakeServer(t)
	f.ingestGate = make(chan struct{})
	var flushes atomic.Int32
	c := newTestClient(t, f, tripswitch.WithBufferCapacity(100), tripswitch.WithBatchSize(50), tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithMaxInFlightBatches(1),
		tripswitch.WithHooks(tripswitch.Hooks{Flush: func(tripswitch.FlushResult) { flushes.Add(1) }}))
	report := func(from, n int) {
		for i := from; i < from+n; i++ {
			_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(i), OK: true})
		}
	}
	report(0, 50) // a full batch: the flusher sends it and the server holds it
	eventually(t, "batch in flight", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.arrivals > 0
	})
	var last tripswitch.Stats
	for i := 50; i < 400; i += 10 {
		report(i, 10)
		s := c.Stats()
		checkIdentity(t, s)
		if s.Dropped < last.Dropped || s.Delivered < last.Delivered || s.Produced < last.Produced {
			t.Fatalf("a counter went down: %+v after %+v", s, last)
		}
		last = s
	}
	f.ingestGate <- struct{}{} // the held batch is accepted
	eventually(t, "first delivery", func() bool { return c.Stats().Delivered == 50 })
	s := c.Stats()
	checkIdentity(t, s)
	if s.Delivered != 50 || s.Dropped != 250 || s.Buffered != 100 {
		t.Fatalf("stats %+v: want the in-flight 50 delivered, 250 dropped, the newest 100 buffered", s)
	}
	close(f.ingestGate)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := f.samples()
	if len(got) != 150 {
		t.Fatalf("server got %d samples", len(got))
	}
	held := map[float64]bool{}
	for _, smp := range got[:50] {
		held[num(t, smp["value"])] = true
	}
	for i := range 50 {
		if !held[float64(i)] {
			t.Fatalf("sample %d of the held batch missing from the first 50 delivered", i)
		}
	}
	checkNewest(t, got[50:], 400, 100)
	checkIdentity(t, c.Stats())
}
