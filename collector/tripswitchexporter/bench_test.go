package tripswitchexporter

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

// benchSpans is the batch size of the benchmarks: the batch processor's
// default send_batch_size.
const benchSpans = 8192

// benchTraces returns n server spans of two services, with the
// attributes otelhttp records, one in ten of them a 5xx.
func benchTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	end := time.Now()
	for svc, name := range []string{"checkout", "payments"} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", name)
		rs.Resource().Attributes().PutStr("host.name", "node-1")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		for i := range n / 2 {
			s := ss.Spans().AppendEmpty()
			s.SetName("GET /pay")
			s.SetKind(ptrace.SpanKindServer)
			s.SetTraceID(pcommon.TraceID{byte(svc + 1), byte(i), byte(i >> 8), 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
			s.SetSpanID(pcommon.SpanID{1, byte(i), byte(i >> 8), 4, 5, 6, 7, 8})
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Duration(20+i%200) * time.Millisecond)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
			status := int64(200)
			if i%10 == 0 {
				status = 503
			}
			a := s.Attributes()
			a.PutStr("http.request.method", "GET")
			a.PutStr("http.route", "/pay")
			a.PutInt("http.response.status_code", status)
			a.PutStr("server.address", "checkout.internal")
		}
	}
	return td
}

func benchConfig(endpoint, projectID, secret string) *Config {
	cfg := testConfig(endpoint, projectID, secret)
	cfg.Spans = []SpanRule{{
		Kind: "server", NamePrefix: "GET /", Router: "rtr_payments", Metric: "latency",
		OK: OKConfig{BelowHTTPStatus: 500}, TagKeys: []string{"service.name"},
	}}
	cfg.Metrics = nil
	return cfg
}

// BenchmarkConvertSpans measures the exporter's cost per span: matching
// the rule, building the sample, without the network.
func BenchmarkConvertSpans(b *testing.B) {
	e, err := newExporter(benchConfig("http://127.0.0.1:9", "proj_1", testSecret), exportertest.NewNopSettings(Type))
	if err != nil {
		b.Fatal(err)
	}
	td := benchTraces(benchSpans)
	b.ReportAllocs()
	for b.Loop() {
		if n := len(e.convertTraces(td)); n != benchSpans {
			b.Fatalf("%d samples", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSpans), "ns/span")
}

// BenchmarkSpansToLocalServer measures spans per second through the
// exporter (conversion, encoding, signing) into the local server, which
// verifies, decodes and evaluates them.
func BenchmarkSpansToLocalServer(b *testing.B) {
	srv := localservertest.Start(b)
	creds := srv.Credentials()
	localservertest.Seed(b, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_payments", Name: "payments"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments-p95", Metric: "latency", Kind: "p95", Op: "gt", Threshold: 1e9,
			WindowMs: 10_000, RouterIDs: []string{"rtr_payments"},
		}},
	})
	ctx := context.Background()
	exp, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(Type), benchConfig(creds.BaseURL, creds.ProjectID, creds.IngestSecret))
	if err != nil {
		b.Fatal(err)
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer exp.Shutdown(ctx)
	td := benchTraces(benchSpans)
	b.ReportAllocs()
	for b.Loop() {
		if err := exp.ConsumeTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchSpans)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSpans), "ns/span")
}
