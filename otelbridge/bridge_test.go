package otelbridge_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func newTracer(t testing.TB) (trace.Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), rec
}

var errBoom = errors.New("boom")

func failingTask() (int, error) { return 0, errBoom }

func TestExecuteInsideSpanCarriesTraceID(t *testing.T) {
	srv := startServer(t)
	b, _ := newBridge(t)
	c := newClient(t, srv, b.ClientOptions()...)
	tracer, _ := newTracer(t)

	ctx, span := tracer.Start(context.Background(), "checkout")
	for range 2 {
		_, err := tripswitch.Execute(c, ctx, func() (int, error) { return 1, nil },
			tripswitch.WithRouter(router), tripswitch.WithMetric("latency", tripswitch.Latency))
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
	}
	span.End()
	_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil },
		tripswitch.WithRouter(router), tripswitch.WithMetric("outside", 1))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	flush(t, c)

	want := span.SpanContext().TraceID().String()
	var inside, outside int
	for _, s := range srv.Samples(srv.Credentials().ProjectID) {
		switch s.Metric {
		case "latency":
			inside++
			if s.TraceID != want {
				t.Errorf("sample inside the span has trace_id %q, want %q", s.TraceID, want)
			}
		case "outside":
			outside++
			if s.TraceID != "" {
				t.Errorf("sample outside any span has trace_id %q, want none", s.TraceID)
			}
		}
	}
	if inside != 2 || outside != 1 {
		t.Fatalf("server got %d samples inside the span and %d outside, want 2 and 1", inside, outside)
	}
}

func TestOpenBreakerShowsInMetricsAndSpans(t *testing.T) {
	srv := startServer(t)
	b, reader := newBridge(t)
	c := newClient(t, srv, b.ClientOptions()...)
	if err := b.Observe(c); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	tracer, rec := newTracer(t)

	p, _ := collect(t, reader)
	for state, want := range map[string]float64{"closed": 1, "open": 0, "half_open": 0} {
		if got, ok := p[stateKey(breaker, state)]; !ok || got != want {
			t.Errorf("before failures: state %s = %v (present %v), want %v", state, got, ok, want)
		}
	}
	if _, ok := p["tripswitch.breaker.transitions{tripswitch.breaker.name="+breaker+",tripswitch.breaker.previous_state=closed,tripswitch.breaker.state=open}"]; ok {
		t.Errorf("transition counted before any transition")
	}

	// Failing calls feed the breaker; the server's engine opens it.
	for range 5 {
		_, _ = tripswitch.Execute(c, context.Background(), failingTask,
			tripswitch.WithBreakers(breaker), tripswitch.WithRouter(router),
			tripswitch.WithMetric("latency", tripswitch.Latency))
	}
	flush(t, c)
	waitFor(t, "the client to see the breaker open", func() bool { return stateOf(c, breaker) == tripswitch.StateOpen })

	transition := "tripswitch.breaker.transitions{tripswitch.breaker.name=" + breaker +
		",tripswitch.breaker.previous_state=closed,tripswitch.breaker.state=open}"
	waitFor(t, "the transition counter", func() bool { p, _ = collect(t, reader); return p[transition] == 1 })
	for state, want := range map[string]float64{"closed": 0, "open": 1, "half_open": 0} {
		if got, ok := p[stateKey(breaker, state)]; !ok || got != want {
			t.Errorf("after opening: state %s = %v (present %v), want %v", state, got, ok, want)
		}
	}
	if got := p["tripswitch.breaker.allow_rate{tripswitch.breaker.name="+breaker+"}"]; got != 0 {
		t.Errorf("allow rate of the open breaker = %v, want 0", got)
	}

	// A call inside a span is rejected; the span records why.
	ctx, span := tracer.Start(context.Background(), "pay")
	_, err := tripswitch.Execute(c, ctx, func() (int, error) { return 1, nil }, tripswitch.WithBreakers(breaker))
	span.End()
	if !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("Execute on the open breaker: err = %v, want ErrOpen", err)
	}
	ended := rec.Ended()
	if len(ended) != 1 || len(ended[0].Events()) != 1 {
		t.Fatalf("want one ended span with one event, got %d spans", len(ended))
	}
	ev := ended[0].Events()[0]
	if ev.Name != "tripswitch.breaker.rejected" {
		t.Errorf("span event %q, want tripswitch.breaker.rejected", ev.Name)
	}
	wantAttrs := map[attribute.Key]string{
		"tripswitch.breaker.name":     breaker,
		"tripswitch.breaker.state":    "open",
		"tripswitch.rejection.reason": "open",
	}
	got := map[attribute.Key]string{}
	for _, kv := range ev.Attributes {
		got[kv.Key] = kv.Value.Emit()
	}
	for k, v := range wantAttrs {
		if got[k] != v {
			t.Errorf("span event attribute %s = %q, want %q", k, got[k], v)
		}
	}

	p, rm := collect(t, reader)
	if got := p["tripswitch.breaker.rejections{tripswitch.breaker.name="+breaker+",tripswitch.rejection.reason=open}"]; got != 1 {
		t.Errorf("rejections = %v, want 1\n%s", got, p)
	}
	// The rejection's exemplar points at the rejected call's trace.
	var exemplarTrace []byte
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "tripswitch.breaker.rejections" {
			for _, dp := range sum.DataPoints {
				for _, ex := range dp.Exemplars {
					exemplarTrace = ex.TraceID
				}
			}
		}
	}
	if want := span.SpanContext().TraceID(); string(exemplarTrace) != string(want[:]) {
		t.Errorf("rejection exemplar trace ID %x, want %s", exemplarTrace, want)
	}
	t.Logf("collection with the breaker open:\n%s", p)
}

func TestTransitionBeforeObserveIsCounted(t *testing.T) {
	srv := startServer(t)
	b, reader := newBridge(t)
	hooked := make(chan struct{}, 1)
	// Hooks run in the order they were given: when this one runs, the
	// Bridge's hook has seen the transition.
	c := newClient(t, srv, append(b.ClientOptions(), tripswitch.WithStateChangeCallback(func(string, tripswitch.State, tripswitch.State) {
		select {
		case hooked <- struct{}{}:
		default:
		}
	}))...)
	if err := srv.ForceState(srv.Credentials().ProjectID, breaker, "open", 0); err != nil {
		t.Fatal(err)
	}
	<-hooked
	if err := b.Observe(c); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	p, _ := collect(t, reader)
	key := "tripswitch.breaker.transitions{tripswitch.breaker.name=" + breaker +
		",tripswitch.breaker.previous_state=closed,tripswitch.breaker.state=open}"
	if p[key] != 1 {
		t.Fatalf("transition that happened before Observe: %s = %v, want 1\n%s", key, p[key], p)
	}
}

func TestDeletedBreakerLeavesCollection(t *testing.T) {
	const other = "checkout-latency"
	srv := startServer(t, localserver.SeedBreaker{
		Name: other, Metric: "latency", Kind: "avg", Op: "gt", Threshold: 1000, RouterIDs: []string{router},
	})
	b, reader := newBridge(t)
	c := newClient(t, srv, append(b.ClientOptions(), tripswitch.WithMetadataSyncInterval(50*time.Millisecond))...)
	if err := b.Observe(c); err != nil {
		t.Fatal(err)
	}
	// Deleting while the first metadata request is in flight would race
	// with the initial state snapshot (the client keeps a breaker whose
	// state arrived after the request started); wait for metadata first.
	waitFor(t, "both breakers in the client's metadata", func() bool {
		m, err := c.BreakerMetadata()
		return err == nil && len(m) == 2 && len(c.States()) == 2
	})
	p, _ := collect(t, reader)
	if _, ok := p[stateKey(other, "closed")]; !ok {
		t.Fatalf("breaker %s missing from the collection:\n%s", other, p)
	}
	if p["tripswitch.breaker.count"] != 2 {
		t.Errorf("breaker count = %v, want 2", p["tripswitch.breaker.count"])
	}

	deleteBreaker(t, srv, other)
	waitFor(t, "the client to forget the deleted breaker", func() bool { _, ok := c.State(other); return !ok })
	p, _ = collect(t, reader)
	for k := range p {
		if strings.Contains(k, "tripswitch.breaker.name="+other) {
			t.Errorf("deleted breaker still collected: %s", k)
		}
	}
	if _, ok := p[stateKey(breaker, "closed")]; !ok {
		t.Errorf("remaining breaker missing from the collection:\n%s", p)
	}
	if p["tripswitch.breaker.count"] != 1 {
		t.Errorf("breaker count = %v, want 1", p["tripswitch.breaker.count"])
	}
}

func TestHealthMetrics(t *testing.T) {
	srv := startServer(t)
	b, reader := newBridge(t)
	c := newClient(t, srv, append(b.ClientOptions(), tripswitch.WithBufferCapacity(321))...)
	if err := b.Observe(c); err != nil {
		t.Fatal(err)
	}
	p, rm := collect(t, reader)
	if len(rm.ScopeMetrics) != 1 {
		t.Fatalf("got %d scopes, want 1", len(rm.ScopeMetrics))
	}
	if sc := rm.ScopeMetrics[0].Scope; sc.Name != otelbridge.ScopeName || sc.Version != otelbridge.Version {
		t.Errorf("scope %q %q, want %q %q", sc.Name, sc.Version, otelbridge.ScopeName, otelbridge.Version)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		for _, dp := range dataPointAttrs(m.Data) {
			if v, ok := dp.Value("tripswitch.project.id"); !ok || v.AsString() != c.ProjectID() {
				t.Errorf("%s: data point without the project ID attribute", m.Name)
			}
		}
		if want := units[m.Name]; m.Unit != want {
			t.Errorf("%s: unit %q, want %q", m.Name, m.Unit, want)
		}
	}
	want := points{
		"tripswitch.sample.produced":   0,
		"tripswitch.sample.delivered":  0,
		"tripswitch.sample.dropped":    0,
		"tripswitch.buffer.usage":      0,
		"tripswitch.buffer.limit":      321,
		"tripswitch.stream.connected":  1,
		"tripswitch.stream.reconnects": 0,
		"tripswitch.flush.failures":    0,
		"tripswitch.breaker.count":     1,
	}
	check(t, "before any sample", p, want)
	if age, ok := p["tripswitch.stream.last_event.age"]; !ok || age < 0 {
		t.Errorf("stream event age = %v (present %v), want a non-negative value", age, ok)
	}
	if _, ok := p["tripswitch.flush.last_success.age"]; ok {
		t.Errorf("flush age present before the first delivery")
	}

	for range 3 {
		if err := c.Report(context.Background(), tripswitch.Sample{RouterID: router, Metric: "latency", Value: 1, OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	p, _ = collect(t, reader)
	want["tripswitch.sample.produced"] = 3
	want["tripswitch.buffer.usage"] = 3
	check(t, "with 3 samples buffered", p, want)

	flush(t, c)
	p, _ = collect(t, reader)
	want["tripswitch.sample.delivered"] = 3
	want["tripswitch.buffer.usage"] = 0
	check(t, "after the flush", p, want)
	if age, ok := p["tripswitch.flush.last_success.age"]; !ok || age < 0 {
		t.Errorf("flush age = %v (present %v), want a non-negative value", age, ok)
	}
}

// units is the documented unit of every instrument.
var units = map[string]string{
	"tripswitch.breaker.state":          "1",
	"tripswitch.breaker.allow_rate":     "1",
	"tripswitch.breaker.count":          "{breaker}",
	"tripswitch.breaker.transitions":    "{transition}",
	"tripswitch.breaker.rejections":     "{call}",
	"tripswitch.sample.produced":        "{sample}",
	"tripswitch.sample.delivered":       "{sample}",
	"tripswitch.sample.dropped":         "{sample}",
	"tripswitch.buffer.usage":           "{sample}",
	"tripswitch.buffer.limit":           "{sample}",
	"tripswitch.stream.connected":       "{connection}",
	"tripswitch.stream.reconnects":      "{reconnect}",
	"tripswitch.stream.last_event.age":  "s",
	"tripswitch.flush.failures":         "{failure}",
	"tripswitch.flush.last_success.age": "s",
}

func check(t *testing.T, when string, got, want points) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: %s = %v (present %v), want %v", when, k, g, ok, v)
		}
	}
}

func TestShutdownUnregisters(t *testing.T) {
	srv := startServer(t)
	b, reader := newBridge(t)
	c := newClient(t, srv, b.ClientOptions()...)
	if err := b.Observe(c); err != nil {
		t.Fatal(err)
	}
	if err := b.Observe(c); !errors.Is(err, otelbridge.ErrAlreadyObserving) {
		t.Errorf("second Observe: err = %v, want ErrAlreadyObserving", err)
	}
	p, _ := collect(t, reader)
	if len(p.names()) < 10 {
		t.Fatalf("before Shutdown only %v collected", p.names())
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := b.Observe(c); !errors.Is(err, otelbridge.ErrShutdown) {
		t.Errorf("Observe after Shutdown: err = %v, want ErrShutdown", err)
	}

	// Hooks do nothing any more: no rejection is counted, no span event added.
	if err := srv.ForceState(srv.Credentials().ProjectID, breaker, "open", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client to see the breaker open", func() bool { return stateOf(c, breaker) == tripswitch.StateOpen })
	tracer, rec := newTracer(t)
	ctx, span := tracer.Start(context.Background(), "pay")
	_, err := tripswitch.Execute(c, ctx, func() (int, error) { return 1, nil }, tripswitch.WithBreakers(breaker))
	span.End()
	if !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("Execute: err = %v, want ErrOpen", err)
	}
	if n := len(rec.Ended()[0].Events()); n != 0 {
		t.Errorf("span got %d events after Shutdown, want 0", n)
	}

	p, _ = collect(t, reader)
	if len(p) != 0 {
		t.Errorf("collection after Shutdown is not empty:\n%s", p)
	}
}

func TestObserveNilClient(t *testing.T) {
	b, _ := newBridge(t)
	if err := b.Observe(nil); err == nil {
		t.Fatal("Observe(nil) succeeded")
	}
}

func TestDefaultsToGlobalMeterProvider(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetMeterProvider(prev)
		_ = mp.Shutdown(context.Background())
	})

	srv := startServer(t)
	b := otelbridge.New()
	defer b.Shutdown(context.Background())
	c := newClient(t, srv, b.ClientOptions()...)
	if err := b.Observe(c); err != nil {
		t.Fatal(err)
	}
	p, _ := collect(t, reader)
	if p[stateKey(breaker, "closed")] != 1 {
		t.Fatalf("the global MeterProvider did not get the Bridge's metrics:\n%s", p)
	}
}
