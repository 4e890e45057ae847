package tripswitch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func num(t *testing.T, v any) float64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a JSON number", v, v)
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
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

func TestReportValidation(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	for _, s := range []tripswitch.Sample{
		{Metric: "m", Value: 1},
		{RouterID: "r", Value: 1},
		{RouterID: "r", Metric: "m", Value: nan()},
	} {
		if err := c.Report(context.Background(), s); err == nil {
			t.Errorf("Report(%+v) accepted", s)
		}
	}
	if s := c.Stats(); s.Produced != 0 {
		t.Fatalf("invalid samples were counted: %+v", s)
	}
}

func nan() float64 { var z float64; return z / z }

// TestCloseReturnsByDeadline runs Close against a server that accepts
// ingest connections and never answers.
func TestCloseReturnsByDeadline(t *testing.T) {
	f := newFakeServer(t)
	f.ingestHang = make(chan struct{})
	c := newTestClient(t, f)
	for range 10 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	if ctx.Err() == nil {
		// Close returned before its deadline: only possible if it
		// delivered, which the server never lets happen.
		t.Fatalf("Close returned early: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "10 samples") {
		t.Fatalf("Close error = %v, want it to count the undelivered samples", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Dropped != 10 {
		t.Fatalf("stats %+v", s)
	}
	// Idempotent, and the client keeps answering.
	if err2 := c.Close(context.Background()); err2 != err {
		t.Fatalf("second Close = %v", err2)
	}
	if err := c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1}); !errors.Is(err, tripswitch.ErrClosed) {
		t.Fatalf("Report after Close = %v", err)
	}
	if s := c.Stats(); s.Dropped != 11 {
		t.Fatalf("sample after Close not counted as dropped: %+v", s)
	}
}

// TestCloseAgainstBlackHole uses a listener that accepts and never reads or
// answers: the stream never syncs and ingest never completes.
func TestCloseAgainstBlackHole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	defer func() {
		ln.Close()
		<-acceptDone
		for _, c := range conns {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	bc, err := tripswitch.NewClient(ctx, "proj_test", tripswitch.WithBaseURL("http://"+ln.Addr().String()), tripswitch.WithProjectKey(testKey))
	if !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("NewClient with a black hole: err = %v, want ErrNotSynced", err)
	}
	closeClient(t, bc)
	// Without a key the client starts at once; calls run (fail-open)
	// while the server swallows the samples.
	c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL("http://"+ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil },
			tripswitch.WithBreakers("checkout"), tripswitch.WithRouter("r"), tripswitch.WithMetric("latency", tripswitch.Latency)); err != nil {
			t.Fatal(err)
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer ccancel()
	if err := c.Close(cctx); err == nil {
		t.Fatal("Close reported success against a black hole")
	}
	checkIdentity(t, c.Stats())
}

func TestMetadataETagAndStopOnForbidden(t *testing.T) {
	f := newFakeServer(t)
	f.etag = `"v1"`
	f.metaBody["breakers"] = `{"breakers":[{"id":"b1","name":"checkout","metadata":{"region":"eu"}}]}`
	f.metaBody["routers"] = `{"routers":[{"id":"rtr_1","name":"main","metadata":{"env":"prod"}}]}`
	c := newTestClient(t, f, tripswitch.WithMetadataSyncInterval(20*time.Millisecond))
	eventually(t, "metadata", func() bool {
		_, err := c.RouterMetadata()
		return err == nil && f.hits("routers") >= 3
	})
	bs, err := c.BreakerMetadata()
	if err != nil || len(bs) != 1 || bs[0].Metadata["region"] != "eu" {
		t.Fatalf("BreakerMetadata = %+v, %v", bs, err)
	}
	// After 304s the cache still holds the data.
	rs, _ := c.RouterMetadata()
	if len(rs) != 1 || rs[0].ID != "rtr_1" {
		t.Fatalf("RouterMetadata after 304 = %+v", rs)
	}
	f.mu.Lock()
	f.metaCodes["breakers"] = http.StatusForbidden
	before := f.metaHits["breakers"]
	f.mu.Unlock()
	eventually(t, "a poll answered 403", func() bool { return f.hits("breakers") > before })
	time.Sleep(100 * time.Millisecond) // a poll in flight lands
	n := f.hits("breakers")
	time.Sleep(200 * time.Millisecond) // ten polling intervals
	if m := f.hits("breakers"); m != n {
		t.Fatalf("client kept polling after 403: %d → %d", n, m)
	}
}

func TestSelectors(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{`{"breaker":"eu-db","state":"open","allow_rate":0}`, `{"breaker":"us-db","state":"closed","allow_rate":1}`}
	f.metaBody["breakers"] = `{"breakers":[{"id":"b1","name":"eu-db","metadata":{"region":"eu"}},{"id":"b2","name":"us-db","metadata":{"region":"us"}}]}`
	f.metaBody["routers"] = `{"routers":[{"id":"rtr_eu","name":"eu","metadata":{"region":"eu"}}]}`
	noMeta := newTestClient(t, f)
	pick := func(region string) func([]tripswitch.BreakerMeta) []string {
		return func(bs []tripswitch.BreakerMeta) []string {
			var out []string
			for _, b := range bs {
				if b.Metadata["region"] == region {
					out = append(out, b.Name)
				}
			}
			return out
		}
	}
	task := func() (int, error) { return 1, nil }
	if _, err := tripswitch.Execute(noMeta, context.Background(), task, tripswitch.WithBreakerSelector(pick("eu"))); !errors.Is(err, tripswitch.ErrMetadataUnavailable) {
		t.Fatalf("selector without metadata: %v", err)
	}
	c := newTestClient(t, f, tripswitch.WithMetadataSyncInterval(time.Hour))
	eventually(t, "metadata", func() bool { _, err := c.RouterMetadata(); return err == nil })
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(pick("eu"))); !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("eu selection: %v, want open", err)
	}
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(pick("us"))); err != nil {
		t.Fatalf("us selection: %v", err)
	}
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(pick("mars"))); err != nil {
		t.Fatalf("empty selection must not gate: %v", err)
	}
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(func([]tripswitch.BreakerMeta) []string { panic("selector bug") })); err != nil {
		t.Fatalf("panicking selector: %v", err)
	}
	_, err := tripswitch.Execute(c, context.Background(), task,
		tripswitch.WithRouterSelector(func(rs []tripswitch.RouterMeta) string { return rs[0].ID }),
		tripswitch.WithMetric("m", 1))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Flush(context.Background())
	if got := f.samples(); len(got) != 1 || got[0]["router_id"] != "rtr_eu" {
		t.Fatalf("router selector samples %v", got)
	}
	for _, opts := range [][]tripswitch.CallOption{
		{tripswitch.WithBreakers("a"), tripswitch.WithBreakerSelector(pick("eu"))},
		{tripswitch.WithRouter("r"), tripswitch.WithRouterSelector(func([]tripswitch.RouterMeta) string { return "" })},
	} {
		if _, err := tripswitch.Execute(c, context.Background(), task, opts...); !errors.Is(err, tripswitch.ErrConflictingOptions) {
			t.Errorf("conflicting options: %v", err)
		}
	}
}

func TestOKClassification(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	errIgnored := errors.New("not found")
	errOther := errors.New("boom")
	run := func(err error, opts ...tripswitch.CallOption) {
		_, _ = tripswitch.Execute(c, context.Background(), func() (int, error) { return 0, err },
			append([]tripswitch.CallOption{tripswitch.WithRouter("r"), tripswitch.WithMetric("m", 1)}, opts...)...)
	}
	run(nil)                                                                                                                  // ok
	run(errOther)                                                                                                             // failure
	run(fmt.Errorf("wrapped: %w", errIgnored), tripswitch.WithIgnoreErrors(errIgnored))                                       // ignored → ok
	run(errIgnored, tripswitch.WithIgnoreErrors(errIgnored), tripswitch.WithErrorEvaluator(func(error) bool { return true })) // evaluator wins → failure
	run(errOther, tripswitch.WithErrorEvaluator(func(error) bool { return false }))                                           // → ok
	run(errOther, tripswitch.WithErrorEvaluator(func(error) bool { panic("bad evaluator") }))                                 // panic → failure
	_ = c.Flush(context.Background())
	var got []bool
	for _, s := range f.samples() {
		got = append(got, s["ok"].(bool))
	}
	want := []bool{true, false, true, false, true, false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ok = %v, want %v", got, want)
	}
}

func TestTaskPanicReportsFailureAndRepanics(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	func() {
		defer func() {
			if r := recover(); r != "task exploded" {
				t.Fatalf("recovered %v, want the original panic value", r)
			}
		}()
		_, _ = tripswitch.Execute(c, context.Background(), func() (int, error) { panic("task exploded") },
			tripswitch.WithRouter("r"), tripswitch.WithMetric("latency", tripswitch.Latency))
	}()
	_ = c.Flush(context.Background())
	got := f.samples()
	if len(got) != 1 || got[0]["ok"] != false {
		t.Fatalf("samples %v, want one failure", got)
	}
}

func TestMetricClosurePanicsAreRecovered(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithTraceIDExtractor(func(context.Context) string { panic("extractor") }))
	v, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 7, nil },
		tripswitch.WithRouter("r"),
		tripswitch.WithMetric("good", 1),
		tripswitch.WithMetric("bad", func() float64 { panic("metric") }),
		tripswitch.WithDeferredMetrics(func(int, error) map[string]float64 { panic("deferred") }),
	)
	if v != 7 || err != nil {
		t.Fatalf("Execute = %v, %v", v, err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Produced != 2 || s.Dropped != 1 {
		t.Fatalf("stats %+v: the panicking metric must be produced and dropped", s)
	}
}

func TestDeferredMetrics(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	type resp struct{ in, out int }
	_, err := tripswitch.Execute(c, context.Background(), func() (resp, error) { return resp{12, 30}, nil },
		tripswitch.WithRouter("llm"),
		tripswitch.WithDeferredMetrics(func(r resp, err error) map[string]float64 {
			return map[string]float64{"prompt_tokens": float64(r.in), "completion_tokens": float64(r.out)}
		}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil },
		tripswitch.WithRouter("llm"),
		tripswitch.WithDeferredMetrics(func(r string, err error) map[string]float64 { return nil }))
	if !errors.Is(err, tripswitch.ErrInvalidOption) || !strings.Contains(err.Error(), "WithDeferredMetrics") {
		t.Fatalf("mismatched deferred type: %v", err)
	}
	_ = c.Flush(context.Background())
	got := map[string]float64{}
	for _, s := range f.samples() {
		got[s["metric"].(string)] = num(t, s["value"])
	}
	if got["prompt_tokens"] != 12 || got["completion_tokens"] != 30 || len(got) != 2 {
		t.Fatalf("deferred samples %v", got)
	}
}

func TestInvalidCallOptions(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	task := func() (int, error) { return 1, nil }
	for name, opt := range map[string]tripswitch.CallOption{
		"WithMetric":   tripswitch.WithMetric("x", "not a number"),
		"WithRouter":   tripswitch.WithRouter(""),
		"WithBreakers": tripswitch.WithBreakers(""),
	} {
		_, err := tripswitch.Execute(c, context.Background(), task, opt)
		if !errors.Is(err, tripswitch.ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := tripswitch.Prepare[int](c, tripswitch.WithMetric("a", 1), tripswitch.WithMetric("a", 2)); err == nil {
		t.Error("duplicate metric accepted")
	}
}

// TestHalfOpenThrottling checks the allow rate with an injected random
// source: the smallest rate among half-open breakers decides.
func TestHalfOpenThrottling(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{
		`{"breaker":"a","state":"half_open","allow_rate":0.5}`,
		`{"breaker":"b","state":"half_open","allow_rate":0.2}`,
		`{"breaker":"c","state":"closed","allow_rate":1}`,
	}
	var draws atomic.Uint64
	// A deterministic stream of uniform draws: 0.005, 0.015, ... 0.995.
	rnd := func() float64 { n := draws.Add(1) - 1; return (float64(n%100) + 0.5) / 100 }
	c := newTestClient(t, f, tripswitch.WithRandom(rnd))
	eventually(t, "the whole snapshot", func() bool { return len(c.States()) == 3 })
	task := func() (int, error) { return 1, nil }
	prepared, err := tripswitch.Prepare[int](c, tripswitch.WithBreakers("a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	var allowed, throttledByB int
	for range 1000 {
		_, err := prepared.Execute(context.Background(), task)
		var be *tripswitch.BreakerError
		switch {
		case err == nil:
			allowed++
		case errors.As(err, &be) && be.Reason == tripswitch.ReasonThrottled && be.Breaker == "b":
			throttledByB++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if allowed != 200 || throttledByB != 800 {
		t.Fatalf("allowed %d, throttled %d: want exactly 20%% allowed", allowed, throttledByB)
	}
	// Unprepared calls follow the same rule.
	allowed = 0
	for range 1000 {
		if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakers("c", "a")); err == nil {
			allowed++
		}
	}
	if allowed != 500 {
		t.Fatalf("allowed %d of 1000 at rate 0.5", allowed)
	}
}

// TestRejectedHook checks that hooks see rejections with the call's ctx.
func TestRejectedHook(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{`{"breaker":"checkout","state":"open","allow_rate":0}`}
	type key struct{}
	var seen []string
	c := newTestClient(t, f, tripswitch.WithHooks(tripswitch.Hooks{Rejected: func(ctx context.Context, err *tripswitch.BreakerError) {
		seen = append(seen, fmt.Sprint(ctx.Value(key{}), " ", err.Breaker, " ", err.Reason))
	}}))
	ctx := context.WithValue(context.Background(), key{}, "req-1")
	ran := false
	_, err := tripswitch.Execute(c, ctx, func() (int, error) { ran = true; return 1, nil }, tripswitch.WithBreakers("checkout"))
	if ran || !tripswitch.IsBreakerError(err) || !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("ran=%v err=%v", ran, err)
	}
	if len(seen) != 1 || seen[0] != "req-1 checkout open" {
		t.Fatalf("hook saw %v", seen)
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

func TestReporterReportValues(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithTraceIDExtractor(func(context.Context) string { return "" }))
	rep, err := c.NewReporter("rtr_h", "latency", map[string]string{"route": "/pay"})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Truncate(time.Millisecond)
	if err := rep.ReportValues(context.Background(), ts, []float64{1, 2, nan()}, true, ""); err == nil {
		t.Fatal("non-finite value accepted")
	}
	_ = rep.Report(context.Background(), ts, 0.5, true, "")
	if err := rep.ReportValues(context.Background(), ts, []float64{10, 20, 30}, false, "4bf92f3577b34da6a3ce929d0e0e4736"); err != nil {
		t.Fatal(err)
	}
	if err := rep.ReportValues(context.Background(), ts, []float64{40, 50}, true, ""); err != nil {
		t.Fatal(err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Produced != 6 || s.Buffered != 6 {
		t.Fatalf("stats %+v", s)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := f.samples()
	// One timestamp for all: the order among them is not promised.
	sort.Slice(got, func(i, j int) bool { return num(t, got[i]["value"]) < num(t, got[j]["value"]) })
	var values []float64
	for _, smp := range got {
		values = append(values, num(t, smp["value"]))
		if num(t, smp["ts_ms"]) != float64(ts.UnixMilli()) {
			t.Fatalf("sample %v", smp)
		}
	}
	if fmt.Sprint(values) != "[0.5 10 20 30 40 50]" {
		t.Fatalf("values %v", values)
	}
	if got[1]["ok"] != false || got[1]["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || got[4]["ok"] != true || got[1]["tags"].(map[string]any)["route"] != "/pay" {
		t.Fatalf("samples %v", got)
	}
	closeClient(t, c)
	if err := rep.ReportValues(context.Background(), ts, []float64{1, 2}, true, ""); !errors.Is(err, tripswitch.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if s := c.Stats(); s.Produced != 8 || s.Dropped != 2 {
		t.Fatalf("stats after Close %+v", s)
	}
}
