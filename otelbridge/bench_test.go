package otelbridge_test

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// benchProcessor returns a processor with a realistic rule set, feeding a
// client that never sends during the benchmark (the buffer wraps around).
func benchProcessor(b testing.TB) *otelbridge.SpanProcessor {
	srv := startServer(b)
	c := newClient(b, srv, tripswitch.WithBufferCapacity(4096), tripswitch.WithBatchSize(1<<20))
	p, err := otelbridge.NewSpanProcessor(c,
		otelbridge.Rule{Name: "GET /checkout", Kind: trace.SpanKindServer, Router: "rtr_checkout", Metric: "latency", OK: otelbridge.OKBelowHTTPStatus(500)},
		otelbridge.Rule{Name: "POST /pay", Kind: trace.SpanKindServer, Router: "rtr_pay", Metric: "latency"},
		otelbridge.Rule{NamePrefix: "db.", Scope: "db", Router: "rtr_db", Metric: "latency"},
		otelbridge.Rule{Name: "GET /item", Router: "rtr_item", Metric: "latency", TagKeys: []attribute.Key{"http.route"}},
	)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchSpan(name string) sdktrace.ReadOnlySpan {
	return tracetest.SpanStub{
		Name:     name,
		SpanKind: trace.SpanKindServer,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:  trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled,
		}),
		StartTime: t0,
		EndTime:   t0.Add(42 * time.Millisecond),
		Attributes: []attribute.KeyValue{
			attribute.String("http.request.method", "GET"),
			attribute.String("http.route", "/item"),
			attribute.Int("http.response.status_code", 200),
		},
		Status:               sdktrace.Status{Code: codes.Unset},
		InstrumentationScope: instrumentation.Scope{Name: "otelhttp"},
	}.Snapshot()
}

func BenchmarkOnEndUnmatched(b *testing.B) {
	p := benchProcessor(b)
	s := benchSpan("GET /health")
	b.ReportAllocs()
	for b.Loop() {
		p.OnEnd(s)
	}
}

// BenchmarkOnEndMatched measures the default mapping (status decides ok).
func BenchmarkOnEndMatched(b *testing.B) {
	p := benchProcessor(b)
	s := benchSpan("POST /pay")
	b.ReportAllocs()
	for b.Loop() {
		p.OnEnd(s)
	}
}

// BenchmarkOnEndMatchedHTTPStatus measures a rule with OKBelowHTTPStatus.
func BenchmarkOnEndMatchedHTTPStatus(b *testing.B) {
	p := benchProcessor(b)
	s := benchSpan("GET /checkout")
	b.ReportAllocs()
	for b.Loop() {
		p.OnEnd(s)
	}
}

func BenchmarkOnEndMatchedTags(b *testing.B) {
	p := benchProcessor(b)
	s := benchSpan("GET /item")
	b.ReportAllocs()
	for b.Loop() {
		p.OnEnd(s)
	}
}

func BenchmarkOnEndMatchedParallel(b *testing.B) {
	p := benchProcessor(b)
	s := benchSpan("GET /checkout")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.OnEnd(s)
		}
	})
}

func BenchmarkTraceID(b *testing.B) {
	s := benchSpan("x")
	ctx := trace.ContextWithSpanContext(b.Context(), s.SpanContext())
	b.ReportAllocs()
	for b.Loop() {
		_ = otelbridge.TraceID(ctx)
	}
}

// BenchmarkReporterBaseline is the client's share of a matched span: one
// Reporter.Report with a freshly encoded trace ID.
func BenchmarkReporterBaseline(b *testing.B) {
	srv := startServer(b)
	c := newClient(b, srv, tripswitch.WithBufferCapacity(4096), tripswitch.WithBatchSize(1<<20))
	rep, err := c.NewReporter("rtr_checkout", "latency", nil)
	if err != nil {
		b.Fatal(err)
	}
	sc := benchSpan("x").SpanContext()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		_ = rep.Report(ctx, t0, 42, true, sc.TraceID().String())
	}
}
