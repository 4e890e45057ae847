package tripswitchexporter

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

const testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testConfig returns a valid config for endpoint, without a sending queue
// so that a push's error reaches the caller, and with fast retries.
func testConfig(endpoint, projectID, secret string) *Config {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Endpoint, cfg.ProjectID, cfg.IngestSecret = endpoint, projectID, configopaque.String("ik_"+secret)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.InitialInterval = 5 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
	cfg.Spans = []SpanRule{{Kind: "server", Router: "rtr_payments", Metric: "latency"}}
	cfg.Metrics = []MetricRule{{Instrument: "http.server.request.duration", Router: "rtr_payments", Metric: "latency"}}
	return cfg
}

// startTraces creates and starts a traces exporter for cfg, shut down
// when the test ends.
func startTraces(t *testing.T, cfg *Config) exporter.Traces {
	t.Helper()
	exp, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, exp)
	return exp
}

// startMetrics is startTraces for a metrics exporter.
func startMetrics(t *testing.T, cfg *Config) exporter.Metrics {
	t.Helper()
	exp, err := NewFactory().CreateMetrics(context.Background(), exportertest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, exp)
	return exp
}

func start(t *testing.T, exp component.Component) {
	t.Helper()
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
}

// serverSpans returns n server spans of d each, from service checkout.
func serverSpans(n int, d time.Duration) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	end := time.Now()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetName("GET /pay")
		s.SetKind(ptrace.SpanKindServer)
		s.SetTraceID(pcommon.TraceID{1, byte(i + 1)})
		s.SetSpanID(pcommon.SpanID{2, byte(i + 1)})
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-d)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	}
	return td
}

// secondsHistogram returns one cumulative histogram point of
// http.server.request.duration in seconds, started at start.
func secondsHistogram(start time.Time, counts []uint64, sum float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	p := h.DataPoints().AppendEmpty()
	p.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	p.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	p.ExplicitBounds().FromRaw([]float64{0.1, 0.25, 0.5, 1})
	p.BucketCounts().FromRaw(counts)
	var n uint64
	for _, c := range counts {
		n += c
	}
	p.SetCount(n)
	p.SetSum(sum)
	p.Attributes().PutInt("http.response.status_code", 200)
	return md
}

func TestLifecycle(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:9", "proj_1", testSecret)
	cfg.QueueConfig = NewFactory().CreateDefaultConfig().(*Config).QueueConfig
	ctx := context.Background()
	set := exportertest.NewNopSettings(Type)
	traces, err := NewFactory().CreateTraces(ctx, set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := NewFactory().CreateMetrics(ctx, set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := componenttest.NewNopHost()
	if err := traces.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := metrics.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := traces.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := metrics.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	// goleak in TestMain checks that nothing is left running.
}

func TestInvalidConfigRefusedAtCreate(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:9", "proj_1", testSecret)
	cfg.Spans[0].Kind = "sideways"
	if _, err := NewFactory().CreateTraces(context.Background(), exportertest.NewNopSettings(Type), cfg); err == nil {
		t.Fatal("invalid span rule accepted")
	}
}

// TestMetricsTripBreaker sends a cumulative histogram in seconds twice;
// the samples reach the local server in milliseconds, only the second
// point's increase is added, and a "p95 > 300" breaker trips.
func TestMetricsTripBreaker(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_payments", Name: "payments"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments-p95", Metric: "latency", Kind: "p95", Op: "gt", Threshold: 300,
			WindowMs: time.Hour.Milliseconds(), MinCount: 20, RouterIDs: []string{"rtr_payments"},
		}},
	})
	cfg := testConfig(creds.BaseURL, creds.ProjectID, creds.IngestSecret)
	ctx := context.Background()
	exp := startMetrics(t, cfg)

	start := time.Now()
	if err := exp.ConsumeMetrics(ctx, secondsHistogram(start, []uint64{10, 0, 0, 0, 0}, 0.5)); err != nil {
		t.Fatal(err)
	}
	// 30 more requests of 0.5–1 s.
	if err := exp.ConsumeMetrics(ctx, secondsHistogram(start, []uint64{10, 0, 0, 30, 0}, 23)); err != nil {
		t.Fatal(err)
	}
	samples := srv.Samples(creds.ProjectID)
	if len(samples) != 40 {
		t.Fatalf("server holds %d samples, want 40 (10 + the 30 new)", len(samples))
	}
	slow := 0
	for _, s := range samples {
		if s.Value >= 500 && s.Value <= 1000 {
			slow++
		} else if s.Value > 100 {
			t.Fatalf("sample %v ms outside its bucket", s.Value)
		}
	}
	if slow != 30 {
		t.Errorf("%d samples in the 500–1000 ms bucket, want 30", slow)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		state, _, err := srv.BreakerState(creds.ProjectID, "payments-p95")
		if err != nil {
			t.Fatal(err)
		}
		if state == "open" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker is %s, want open", state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeIngest answers with the given statuses in turn (202 once they run
// out) and records the samples of every request.
type fakeIngest struct {
	mu       sync.Mutex
	statuses []int
	batches  [][]received
}

// received is one sample as the fake ingest endpoint decodes it.
type received struct {
	RouterID string            `json:"router_id"`
	Metric   string            `json:"metric"`
	TsMs     int64             `json:"ts_ms"`
	Value    float64           `json:"value"`
	OK       bool              `json:"ok"`
	Tags     map[string]string `json:"tags"`
	TraceID  string            `json:"trace_id"`
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var doc struct{ Samples []received }
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, doc.Samples)
	status := http.StatusAccepted
	if len(f.statuses) > 0 {
		status, f.statuses = f.statuses[0], f.statuses[1:]
	}
	w.WriteHeader(status)
}

func (f *fakeIngest) requests() [][]received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.batches
}

// TestRetrySendsTheSameSamples checks that the Collector's retry of a
// failed push delivers the samples of the first attempt: a cumulative
// point converted anew would yield an increase of zero.
func TestRetrySendsTheSameSamples(t *testing.T) {
	fake := &fakeIngest{statuses: []int{http.StatusServiceUnavailable, http.StatusBadGateway}}
	ts := httptest.NewServer(fake)
	defer ts.Close()
	ctx := context.Background()
	exp := startMetrics(t, testConfig(ts.URL, "proj_1", testSecret))
	if err := exp.ConsumeMetrics(ctx, secondsHistogram(time.Now(), []uint64{0, 0, 0, 7, 0}, 5)); err != nil {
		t.Fatalf("push with retries: %v", err)
	}
	reqs := fake.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (two failures, one success)", len(reqs))
	}
	for i, b := range reqs {
		if len(b) != 7 {
			t.Errorf("request %d carried %d samples, want the same 7 each time", i, len(b))
		}
	}
}

func TestPermanentRefusalIsNotRetried(t *testing.T) {
	fake := &fakeIngest{statuses: []int{http.StatusUnauthorized}}
	ts := httptest.NewServer(fake)
	defer ts.Close()
	ctx := context.Background()
	exp := startTraces(t, testConfig(ts.URL, "proj_1", testSecret))
	err := exp.ConsumeTraces(ctx, serverSpans(3, 50*time.Millisecond))
	if !consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestSpansBecomeSamples checks the conversion of one push: value in
// milliseconds, trace ID, ok from the status, tags from the resource.
func TestSpansBecomeSamples(t *testing.T) {
	fake := &fakeIngest{}
	ts := httptest.NewServer(fake)
	defer ts.Close()
	cfg := testConfig(ts.URL, "proj_1", testSecret)
	cfg.Spans[0].TagKeys = []string{"service.name"}
	ctx := context.Background()
	exp := startTraces(t, cfg)
	td := serverSpans(2, 250*time.Millisecond)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Status().SetCode(ptrace.StatusCodeError)
	if err := exp.ConsumeTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	reqs := fake.requests()
	if len(reqs) != 1 || len(reqs[0]) != 2 {
		t.Fatalf("requests %v, want one with 2 samples", reqs)
	}
	for i, s := range reqs[0] {
		if s.RouterID != "rtr_payments" || s.Metric != "latency" || s.Value != 250 || s.Tags["service.name"] != "checkout" ||
			s.TraceID != fmt.Sprintf("01%02x%028d", i+1, 0) || s.OK != (i == 0) {
			t.Errorf("sample %d: %+v", i, s)
		}
	}
}

// TestShutdownClosesConnections checks that Shutdown leaves no connection
// to the server behind, while the server itself keeps running.
func TestShutdownClosesConnections(t *testing.T) {
	ts := httptest.NewServer(&fakeIngest{})
	defer ts.Close()
	ignore := goleak.IgnoreCurrent()
	ctx := context.Background()
	exp, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(Type), testConfig(ts.URL, "proj_1", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ConsumeTraces(ctx, serverSpans(3, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
}

// cumulativeSum returns one cumulative monotonic sum point of
// requests from service svc.
func cumulativeSum(svc string, start time.Time, value int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", svc)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("requests")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	p := s.DataPoints().AppendEmpty()
	p.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	p.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	p.SetIntValue(value)
	return md
}

// TestManyServicesKeepTheirStreams sends cumulative sums from 20
// services, each in its own push, for three rounds: every service's
// increase of rounds two and three is forwarded, however the pushes of
// other services interleave.
func TestManyServicesKeepTheirStreams(t *testing.T) {
	fake := &fakeIngest{}
	ts := httptest.NewServer(fake)
	defer ts.Close()
	cfg := testConfig(ts.URL, "proj_1", testSecret)
	cfg.Spans = nil
	cfg.Metrics = []MetricRule{{Instrument: "requests", Router: "rtr_1", Metric: "requests", TagKeys: []string{"service.name"}}}
	ctx := context.Background()
	exp := startMetrics(t, cfg)
	start := time.Now().Add(-time.Hour) // the services started before the Collector: round one is a baseline
	const services = 20
	for round := range 3 {
		for i := range services {
			if err := exp.ConsumeMetrics(ctx, cumulativeSum(fmt.Sprint("svc-", i), start, int64(100*(round+1)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]float64{}
	for _, b := range fake.requests() {
		for _, s := range b {
			got[s.Tags["service.name"]] += s.Value
		}
	}
	for i := range services {
		if svc := fmt.Sprint("svc-", i); got[svc] != 200 {
			t.Errorf("%s: %v forwarded, want 200 (two increases of 100)", svc, got[svc])
		}
	}
}

// TestPendingIsBounded checks that the samples kept for retries are
// bounded, oldest request first out.
func TestPendingIsBounded(t *testing.T) {
	p := pending{max: maxPending}
	for i := range maxPending + 8 {
		p.put(i, []wire.Sample{{Value: float64(i)}})
	}
	if len(p.m) != maxPending || len(p.order) != maxPending {
		t.Fatalf("%d requests kept, want %d", len(p.m), maxPending)
	}
	if _, ok := p.take(0); ok {
		t.Error("the oldest request is still kept")
	}
	if s, ok := p.take(maxPending + 7); !ok || s[0].Value != maxPending+7 {
		t.Error("the newest request is not kept")
	}
	if _, ok := p.take(maxPending + 7); ok {
		t.Error("a request is kept after it was taken")
	}
}

// TestManyTagSets checks that spans beyond the 1,024 tag combinations a
// rule prepares still become samples with their tags.
func TestManyTagSets(t *testing.T) {
	fake := &fakeIngest{}
	ts := httptest.NewServer(fake)
	defer ts.Close()
	cfg := testConfig(ts.URL, "proj_1", testSecret)
	cfg.Spans[0].TagKeys = []string{"http.route"}
	ctx := context.Background()
	exp := startTraces(t, cfg)
	const n = 1100
	td := serverSpans(n, time.Millisecond)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := range n {
		spans.At(i).Attributes().PutStr("http.route", fmt.Sprint("/r/", i))
	}
	if err := exp.ConsumeTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range fake.requests() {
		for _, s := range b {
			seen[s.Tags["http.route"]] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct routes delivered, want %d", len(seen), n)
	}
}

// TestOversizedTagCostsOnlyItsSample: a span whose tag value breaks the
// ingest contract's limit (256 characters) loses its own sample, not the
// push: the local server, which refuses such a batch whole, receives the
// other spans' samples.
func TestOversizedTagCostsOnlyItsSample(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	cfg := testConfig(creds.BaseURL, creds.ProjectID, creds.IngestSecret)
	cfg.Spans[0].TagKeys = []string{"http.route"}
	ctx := context.Background()
	exp := startTraces(t, cfg)
	td := serverSpans(3, 40*time.Millisecond)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(0).Attributes().PutStr("http.route", "/pay")
	spans.At(1).Attributes().PutStr("http.route", "/"+strings.Repeat("x", 300))
	spans.At(2).Attributes().PutStr("http.route", "/refund")
	if err := exp.ConsumeTraces(ctx, td); err != nil {
		t.Fatalf("push with one oversized tag: %v", err)
	}
	got := srv.Samples(creds.ProjectID)
	routes := make([]string, 0, len(got))
	for _, s := range got {
		routes = append(routes, s.Tags["http.route"])
	}
	slices.Sort(routes)
	if !slices.Equal(routes, []string{"/pay", "/refund"}) {
		t.Fatalf("server received samples for routes %q, want /pay and /refund", routes)
	}
}
