package otelbridge_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// t0 is a recent time: the client refuses samples far from its clock.
var t0 = time.Now().UTC().Truncate(time.Second)

func samplesByRouter(srv *localserver.Server) map[string][]localserver.Sample {
	out := map[string][]localserver.Sample{}
	for _, s := range srv.Samples(srv.Credentials().ProjectID) {
		out[s.RouterID] = append(out[s.RouterID], s)
	}
	// Batches in flight together may arrive in any order.
	for _, ss := range out {
		slices.SortStableFunc(ss, func(a, b localserver.Sample) int { return cmp.Compare(a.TsMs, b.TsMs) })
	}
	return out
}

func TestErrorSpanBecomesFailedSample(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	sp, err := otelbridge.NewSpanProcessor(c, otelbridge.Rule{
		Name:    "GET /checkout",
		Kind:    trace.SpanKindServer,
		Router:  router,
		Metric:  "latency",
		TagKeys: []attribute.Key{"http.route"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	start := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	for _, failed := range []bool{true, false} {
		_, span := tracer.Start(context.Background(), "GET /checkout",
			trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
			trace.WithAttributes(attribute.String("http.route", "/checkout"), attribute.String("user.id", "u-42")))
		if failed {
			span.SetStatus(codes.Error, "payment declined")
		}
		span.End(trace.WithTimestamp(start.Add(250 * time.Millisecond)))
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}

	got := samplesByRouter(srv)[router]
	ended := rec.Ended()
	if len(got) != 2 || len(ended) != 2 {
		t.Fatalf("server got %d samples for %d spans, want 2", len(got), len(ended))
	}
	// Both spans share a timestamp, so the samples' order is not given:
	// match them by trace ID.
	if got[0].TraceID == ended[1].SpanContext().TraceID().String() {
		got[0], got[1] = got[1], got[0]
	}
	for i, s := range got {
		wantOK := i == 1
		if s.OK != wantOK {
			t.Errorf("sample %d: ok = %v, want %v", i, s.OK, wantOK)
		}
		if want := ended[i].SpanContext().TraceID().String(); s.TraceID != want {
			t.Errorf("sample %d: trace_id %q, want %q", i, s.TraceID, want)
		}
		if s.Metric != "latency" || s.Value != 250 || s.TsMs != start.UnixMilli() {
			t.Errorf("sample %d: metric %q value %v ts %d, want latency 250 %d", i, s.Metric, s.Value, s.TsMs, start.UnixMilli())
		}
		if want := map[string]string{"http.route": "/checkout"}; !maps.Equal(s.Tags, want) {
			t.Errorf("sample %d: tags %v, want %v (allowlisted attributes only)", i, s.Tags, want)
		}
	}
}

// Spans for the matching table; span i has trace ID i+1.
var matchSpans = []tracetest.SpanStub{
	{Name: "GET /checkout", SpanKind: trace.SpanKindServer, InstrumentationScope: instrumentation.Scope{Name: "otelhttp"},
		Attributes: []attribute.KeyValue{attribute.String("http.request.method", "GET"), attribute.String("http.route", "/checkout")}},
	{Name: "GET /health", SpanKind: trace.SpanKindServer, InstrumentationScope: instrumentation.Scope{Name: "otelhttp"},
		Attributes: []attribute.KeyValue{attribute.String("http.request.method", "GET")}},
	{Name: "db.query", SpanKind: trace.SpanKindClient, InstrumentationScope: instrumentation.Scope{Name: "db"},
		Attributes: []attribute.KeyValue{attribute.String("db.system", "postgresql"), attribute.Int("db.rows", 3)}},
	{Name: "db.exec", SpanKind: trace.SpanKindInternal, InstrumentationScope: instrumentation.Scope{Name: "db"},
		Attributes: []attribute.KeyValue{attribute.String("db.system", "mysql")}},
	{Name: "GET /checkout", SpanKind: trace.SpanKindClient, InstrumentationScope: instrumentation.Scope{Name: "httpclient"}},
}

func traceIDOf(i int) trace.TraceID {
	var id trace.TraceID
	id[15] = byte(i + 1)
	return id
}

func snapshot(i int, stub tracetest.SpanStub) sdktrace.ReadOnlySpan {
	stub.SpanContext = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceIDOf(i), SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
	})
	// Span i starts i ms after t0: the client delivers samples in
	// timestamp order, not in the order they were produced.
	stub.StartTime = t0.Add(time.Duration(i) * time.Millisecond)
	stub.EndTime = stub.StartTime.Add(time.Duration(i+1) * time.Millisecond)
	return stub.Snapshot()
}

func TestRuleMatching(t *testing.T) {
	tests := []struct {
		name string
		rule otelbridge.Rule
		want []int // indexes into matchSpans
	}{
		{"exact name", otelbridge.Rule{Name: "GET /checkout"}, []int{0, 4}},
		{"name and kind", otelbridge.Rule{Name: "GET /checkout", Kind: trace.SpanKindServer}, []int{0}},
		{"unknown name", otelbridge.Rule{Name: "POST /checkout"}, nil},
		{"name prefix", otelbridge.Rule{NamePrefix: "db."}, []int{2, 3}},
		{"prefix and attribute", otelbridge.Rule{NamePrefix: "db.", Attributes: []attribute.KeyValue{attribute.String("db.system", "postgresql")}}, []int{2}},
		{"int attribute", otelbridge.Rule{Attributes: []attribute.KeyValue{attribute.Int("db.rows", 3)}}, []int{2}},
		{"attribute of another type", otelbridge.Rule{Attributes: []attribute.KeyValue{attribute.String("db.rows", "3")}}, nil},
		{"two attributes", otelbridge.Rule{Attributes: []attribute.KeyValue{attribute.String("http.request.method", "GET"), attribute.String("http.route", "/checkout")}}, []int{0}},
		{"missing attribute", otelbridge.Rule{Attributes: []attribute.KeyValue{attribute.String("rpc.system", "grpc")}}, nil},
		{"scope", otelbridge.Rule{Scope: "db"}, []int{2, 3}},
		{"kind only", otelbridge.Rule{Kind: trace.SpanKindClient}, []int{2, 4}},
		{"every span", otelbridge.Rule{}, []int{0, 1, 2, 3, 4}},
	}
	srv := startServer(t)
	c := newClient(t, srv)
	for i, tc := range tests {
		tc.rule.Router, tc.rule.Metric = fmt.Sprintf("rtr_case%d", i), "latency"
		p, err := otelbridge.NewSpanProcessor(c, tc.rule)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for j, stub := range matchSpans {
			p.OnEnd(snapshot(j, stub))
		}
	}
	flush(t, c)
	got := samplesByRouter(srv)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var matched []int
			for _, s := range got[fmt.Sprintf("rtr_case%d", i)] {
				for j := range matchSpans {
					if s.TraceID == traceIDOf(j).String() {
						matched = append(matched, j)
						if want := float64(j + 1); s.Value != want {
							t.Errorf("span %d: value %v, want %v ms", j, s.Value, want)
						}
					}
				}
			}
			slices.Sort(matched)
			if !slices.Equal(matched, tc.want) {
				t.Errorf("matched spans %v, want %v", matched, tc.want)
			}
		})
	}
}

func TestSpanMatchingSeveralRulesFeedsEach(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	p, err := otelbridge.NewSpanProcessor(c,
		otelbridge.Rule{Name: "GET /checkout", Router: "rtr_a", Metric: "latency"},
		otelbridge.Rule{NamePrefix: "GET ", Router: "rtr_b", Metric: "http"},
		otelbridge.Rule{Kind: trace.SpanKindServer, Router: "rtr_c", Metric: "latency"},
	)
	if err != nil {
		t.Fatal(err)
	}
	p.OnEnd(snapshot(0, matchSpans[0]))
	flush(t, c)
	got := samplesByRouter(srv)
	for r, metric := range map[string]string{"rtr_a": "latency", "rtr_b": "http", "rtr_c": "latency"} {
		if len(got[r]) != 1 || got[r][0].Metric != metric || got[r][0].TraceID != traceIDOf(0).String() {
			t.Errorf("router %s: samples %+v, want one %q sample with the span's trace ID", r, got[r], metric)
		}
	}
}

func TestOKFunctions(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	p, err := otelbridge.NewSpanProcessor(c,
		otelbridge.Rule{NamePrefix: "http", Router: "rtr_http", Metric: "latency", OK: otelbridge.OKBelowHTTPStatus(500)},
		otelbridge.Rule{NamePrefix: "panic", Router: "rtr_panic", Metric: "latency", OK: func(sdktrace.ReadOnlySpan) bool { panic("no") }},
	)
	if err != nil {
		t.Fatal(err)
	}
	spans := []struct {
		name   string
		status codes.Code
		attrs  []attribute.KeyValue
		want   bool
	}{
		{"http 404 marked error", codes.Error, []attribute.KeyValue{attribute.Int("http.response.status_code", 404)}, true},
		{"http 503", codes.Unset, []attribute.KeyValue{attribute.Int("http.response.status_code", 503)}, false},
		{"http 500 legacy key", codes.Unset, []attribute.KeyValue{attribute.Int("http.status_code", 500)}, false},
		{"http no status, error", codes.Error, nil, false},
		{"http no status, ok", codes.Ok, nil, true},
		{"http 502 as text", codes.Unset, []attribute.KeyValue{attribute.String("http.response.status_code", "502")}, false},
		{"http 200 as text, marked error", codes.Error, []attribute.KeyValue{attribute.String("http.response.status_code", "200")}, true},
	}
	for i, s := range spans {
		p.OnEnd(snapshot(i, tracetest.SpanStub{Name: s.name, Attributes: s.attrs, Status: sdktrace.Status{Code: s.status}}))
	}
	before := c.Stats().Produced
	p.OnEnd(snapshot(9, tracetest.SpanStub{Name: "panic"}))
	if after := c.Stats().Produced; after != before {
		t.Errorf("a panicking OK function produced %d samples, want none", after-before)
	}
	flush(t, c)
	got := samplesByRouter(srv)["rtr_http"]
	if len(got) != len(spans) {
		t.Fatalf("got %d samples, want %d", len(got), len(spans))
	}
	for i, s := range spans {
		if got[i].OK != s.want {
			t.Errorf("%s: ok = %v, want %v", s.name, got[i].OK, s.want)
		}
	}
}

func TestTagCombinationsBeyondCache(t *testing.T) {
	const n = 1100 // more combinations than a rule keeps reporters for
	srv := startServer(t)
	c := newClient(t, srv)
	p, err := otelbridge.NewSpanProcessor(c, otelbridge.Rule{
		Router: router, Metric: "latency", TagKeys: []attribute.Key{"http.route", "http.response.status_code", "absent"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p.OnEnd(snapshot(i, tracetest.SpanStub{Name: "GET", Attributes: []attribute.KeyValue{
			attribute.String("http.route", fmt.Sprintf("/item/%d", i)),
			attribute.Int("http.response.status_code", 200),
			attribute.String("user.id", "u-1"),
		}}))
	}
	p.OnEnd(snapshot(n, tracetest.SpanStub{Name: "GET", Attributes: []attribute.KeyValue{attribute.String("http.route", "/item/0")}}))
	flush(t, c)
	got := samplesByRouter(srv)[router]
	if len(got) != n+1 {
		t.Fatalf("got %d samples, want %d", len(got), n+1)
	}
	for i, s := range got[:n] {
		want := map[string]string{"http.route": fmt.Sprintf("/item/%d", i), "http.response.status_code": "200"}
		if !maps.Equal(s.Tags, want) {
			t.Fatalf("sample %d: tags %v, want %v", i, s.Tags, want)
		}
	}
	if want := map[string]string{"http.route": "/item/0"}; !maps.Equal(got[n].Tags, want) {
		t.Errorf("last sample: tags %v, want %v", got[n].Tags, want)
	}
}

func TestProcessorShutdownFlushesAndKeepsClient(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	p, err := otelbridge.NewSpanProcessor(c, otelbridge.Rule{Router: router, Metric: "latency"})
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	_, span := tp.Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(srv.Samples(srv.Credentials().ProjectID)); n != 1 {
		t.Fatalf("after Shutdown the server has %d samples, want 1 (Shutdown flushes)", n)
	}
	before := c.Stats().Produced
	p.OnEnd(snapshot(0, tracetest.SpanStub{Name: "late"}))
	if c.Stats().Produced != before {
		t.Errorf("OnEnd after Shutdown produced a sample")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	// The client stays open and usable.
	if err := c.Report(context.Background(), tripswitch.Sample{RouterID: router, Metric: "m", Value: 1}); err != nil {
		t.Errorf("Report after the processor's Shutdown: %v", err)
	}
	flush(t, c)

	p2, err := otelbridge.NewSpanProcessor(c, otelbridge.Rule{Router: router, Metric: "latency"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p2.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush after the client closed: %v", err)
	}
	if err := p2.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after the client closed: %v", err)
	}
}

func TestNewSpanProcessorErrors(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	ok := otelbridge.Rule{Router: router, Metric: "latency"}
	tests := []struct {
		name  string
		rules []otelbridge.Rule
		index int
		field string
	}{
		{"no router", []otelbridge.Rule{ok, {Name: "x", Metric: "latency"}}, 1, "Router"},
		{"no metric", []otelbridge.Rule{ok, {Router: router}}, 1, "Metric"},
		{"name and prefix", []otelbridge.Rule{{Router: router, Metric: "latency", Name: "a", NamePrefix: "a"}}, 0, "NamePrefix"},
		{"bad kind", []otelbridge.Rule{{Router: router, Metric: "latency", Kind: 9}}, 0, "Kind"},
		{"empty attribute key", []otelbridge.Rule{{Router: router, Metric: "latency", Attributes: []attribute.KeyValue{{Key: "", Value: attribute.StringValue("v")}}}}, 0, "Attributes"},
		{"attribute without value", []otelbridge.Rule{{Router: router, Metric: "latency", Attributes: []attribute.KeyValue{{Key: "k"}}}}, 0, "Attributes"},
		{"duplicate attribute", []otelbridge.Rule{{Router: router, Metric: "latency", Attributes: []attribute.KeyValue{attribute.Int("k", 1), attribute.Int("k", 2)}}}, 0, "Attributes"},
		{"too many tag keys", []otelbridge.Rule{{Router: router, Metric: "latency", TagKeys: []attribute.Key{"a", "b", "c", "d", "e"}}}, 0, "TagKeys"},
		{"duplicate tag key", []otelbridge.Rule{{Router: router, Metric: "latency", TagKeys: []attribute.Key{"a", "a"}}}, 0, "TagKeys"},
		{"empty tag key", []otelbridge.Rule{ok, ok, {Router: router, Metric: "latency", TagKeys: []attribute.Key{""}}}, 2, "TagKeys"},
		{"metric too long", []otelbridge.Rule{{Router: router, Metric: strings.Repeat("m", 4096)}}, 0, "Metric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := otelbridge.NewSpanProcessor(c, tc.rules...)
			var re *otelbridge.RuleError
			if p != nil || !errors.As(err, &re) || !errors.Is(err, otelbridge.ErrInvalidRule) {
				t.Fatalf("err = %v, want a *RuleError", err)
			}
			if re.Index != tc.index || re.Field != tc.field {
				t.Fatalf("error names rules[%d].%s, want rules[%d].%s (%v)", re.Index, re.Field, tc.index, tc.field, err)
			}
			if want := fmt.Sprintf("rules[%d].%s", tc.index, tc.field); !strings.Contains(err.Error(), want) {
				t.Fatalf("message %q does not name %s", err, want)
			}
		})
	}
	if _, err := otelbridge.NewSpanProcessor(c); !errors.Is(err, otelbridge.ErrInvalidRule) {
		t.Errorf("no rule: err = %v, want ErrInvalidRule", err)
	}
	if _, err := otelbridge.NewSpanProcessor(nil, ok); !errors.Is(err, otelbridge.ErrInvalidOption) {
		t.Errorf("NewSpanProcessor(nil) = %v, want ErrInvalidOption", err)
	}
}

// recordOnly records every span without sampling it.
type recordOnly struct{}

func (recordOnly) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return sdktrace.SamplingResult{Decision: sdktrace.RecordOnly}
}

func (recordOnly) Description() string { return "recordOnly" }

func TestRecordOnlySpansFeedBreakers(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv)
	p, err := otelbridge.NewSpanProcessor(c, otelbridge.Rule{Router: router, Metric: "latency"})
	if err != nil {
		t.Fatal(err)
	}
	exported := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(recordOnly{}),
		sdktrace.WithSpanProcessor(p), sdktrace.WithSyncer(exported))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	_, span := tp.Tracer("test").Start(context.Background(), "work")
	span.End()
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Samples(srv.Credentials().ProjectID)); n != 1 {
		t.Errorf("an unsampled, recorded span gave %d samples, want 1", n)
	}
	if n := len(exported.GetSpans()); n != 0 {
		t.Errorf("the exporter got %d unsampled spans, want 0", n)
	}
}

// TestRefusedSpanSamplesAreCounted: samples the client refuses, and those
// of a panicking OK function, are counted and handed to the OpenTelemetry
// error handler (once a minute at most), not lost unnoticed.
func TestRefusedSpanSamplesAreCounted(t *testing.T) {
	var mu sync.Mutex
	var handled []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, err)
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	srv := startServer(t)
	c := newClient(t, srv)
	p, err := otelbridge.NewSpanProcessor(c,
		otelbridge.Rule{Name: "plain", Router: router, Metric: "latency"},
		otelbridge.Rule{Name: "tagged", Router: router, Metric: "latency", TagKeys: []attribute.Key{"k"}},
		otelbridge.Rule{Name: "panic", Router: router, Metric: "latency", OK: func(sdktrace.ReadOnlySpan) bool { panic("no") }},
	)
	if err != nil {
		t.Fatal(err)
	}
	at := func(name string, start time.Time) sdktrace.ReadOnlySpan {
		return tracetest.SpanStub{
			Name: name, StartTime: start, EndTime: start.Add(5 * time.Millisecond),
			Attributes: []attribute.KeyValue{attribute.String("k", "v")},
		}.Snapshot()
	}
	ahead := time.Now().Add(time.Hour) // a host clock an hour fast
	p.OnEnd(at("plain", ahead))
	p.OnEnd(at("tagged", ahead))
	p.OnEnd(at("panic", time.Now()))
	p.OnEnd(at("plain", time.Now()))

	st := p.Stats()
	if st.Refused != 3 {
		t.Errorf("Stats().Refused = %d, want 3 (two spans an hour ahead, one panicking OK function)", st.Refused)
	}
	if st.LastRefusal == nil || !strings.Contains(st.LastRefusal.Error(), "OK function panicked") {
		t.Errorf("LastRefusal = %v, want the panicking OK function", st.LastRefusal)
	}
	mu.Lock()
	got := slices.Clone(handled)
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("error handler got %d errors, want 1 (the first refusal of the minute): %v", len(got), got)
	}
	if e := got[0]; !errors.Is(e, tripswitch.ErrInvalidSample) || !strings.Contains(e.Error(), "ahead of the client's clock") ||
		!strings.Contains(e.Error(), `router "`+router+`"`) {
		t.Errorf("handled error %q: want ErrInvalidSample naming the router and the clock", e)
	}

	flush(t, c)
	if n := len(srv.Samples(srv.Credentials().ProjectID)); n != 1 {
		t.Errorf("server has %d samples, want the one valid span's", n)
	}
	// After Close the client counts what it is offered as dropped: the
	// processor does not count it again.
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.OnEnd(at("plain", time.Now()))
	if st := p.Stats(); st.Refused != 3 {
		t.Errorf("after Close: Refused = %d, want still 3", st.Refused)
	}
	if s := c.Stats(); s.Produced != 2 || s.Dropped != 1 {
		t.Errorf("client stats %+v: want 2 produced, 1 dropped (after Close)", s)
	}
}
