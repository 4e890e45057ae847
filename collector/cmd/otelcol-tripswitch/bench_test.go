package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

// benchConfig has no batch processor and no sending queue, so that an
// OTLP request returns once its samples are accepted by the server.
const benchConfig = `
receivers:
  otlp:
    protocols:
      http:
        endpoint: %[1]s
exporters:
  tripswitch:
    endpoint: %[2]s
    project_id: %[3]s
    ingest_secret: ${env:TRIPSWITCH_INGEST_SECRET}
    sending_queue:
      enabled: false
    spans:
      - kind: server
        name_prefix: "GET /"
        router: rtr_payments
        metric: latency
        ok: {below_http_status: 500}
        tag_keys: [service.name]
service:
  telemetry:
    logs: {level: warn}
    metrics: {level: none}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [tripswitch]
`

// BenchmarkCollectorEndToEnd posts OTLP/HTTP requests of 8,192 server
// spans from four concurrent clients to a Collector of this distribution
// and counts spans per second until the local server has accepted their
// samples (without a sending queue a request returns after its batch is
// delivered).
func BenchmarkCollectorEndToEnd(b *testing.B) {
	const spans = 8192
	srv := localservertest.Start(b)
	creds := srv.Credentials()
	localservertest.Seed(b, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_payments", Name: "payments"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments-p95", Metric: "latency", Kind: "p95", Op: "gt", Threshold: 1e9,
			WindowMs: 10_000, RouterIDs: []string{"rtr_payments"},
		}},
	})
	b.Setenv("TRIPSWITCH_INGEST_SECRET", creds.IngestSecret)
	addr := freePort(b)
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, benchConfig, addr, creds.BaseURL, creds.ProjectID), 0o600); err != nil {
		b.Fatal(err)
	}
	runCollector(b, settings("file:"+path))

	body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(otlpSpans(spans))
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + addr + "/v1/traces"
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.SetParallelism(2) // 2 × GOMAXPROCS clients posting at once
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("OTLP answered %s", resp.Status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*spans)/b.Elapsed().Seconds(), "spans/s")
	// CPU time of the whole process (clients, Collector, local server) per
	// span: the figure the noise of a shared machine does not inflate.
	if cpu := cpuTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*spans), "cpu-ns/span")
	}
}

func otlpSpans(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	end := time.Now()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetName("GET /pay")
		s.SetKind(ptrace.SpanKindServer)
		s.SetTraceID(pcommon.TraceID{1, byte(i), byte(i >> 8), 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		s.SetSpanID(pcommon.SpanID{1, byte(i), byte(i >> 8), 4, 5, 6, 7, 8})
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Duration(20+i%200) * time.Millisecond)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		s.Attributes().PutStr("http.route", "/pay")
		s.Attributes().PutInt("http.response.status_code", 200)
	}
	return td
}
