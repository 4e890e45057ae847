package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

// fleet is a local Tripswitch server and a Collector of this
// distribution in front of it.
type fleet struct {
	srv       *localserver.Server
	projectID string
	otlpHTTP  string // host:port of the OTLP/HTTP receiver
	promURL   string // the Prometheus exporter's scrape URL
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

const collectorConfig = `
receivers:
  otlp:
    protocols:
      http:
        endpoint: %[1]s
  tripswitch:
    endpoint: %[2]s
    project_id: %[3]s
    project_key: ${env:TRIPSWITCH_API_KEY}
    collection_interval: 100ms

processors:
  batch:
    timeout: 50ms

exporters:
  tripswitch:
    endpoint: %[2]s
    project_id: %[3]s
    ingest_secret: ${env:TRIPSWITCH_INGEST_SECRET}
    spans:
      - kind: server
        name_prefix: "GET /pay"
        router: rtr_payments
        metric: latency
        ok:
          below_http_status: 500
        tag_keys: [service.name, http.route]
  prometheus:
    endpoint: %[4]s

service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [tripswitch]
    metrics:
      receivers: [tripswitch]
      exporters: [prometheus]
`

// startFleet starts the server with a "p95(latency) > 300 ms" breaker on
// router rtr_payments, and the Collector.
func startFleet(t *testing.T) *fleet {
	t.Helper()
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_payments", Name: "payments"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments-p95", Metric: "latency", Kind: "p95", Op: "gt", Threshold: 300,
			WindowMs: time.Hour.Milliseconds(), MinCount: 20, RouterIDs: []string{"rtr_payments"},
		}},
	})
	t.Setenv("TRIPSWITCH_API_KEY", creds.ProjectKey)
	t.Setenv("TRIPSWITCH_INGEST_SECRET", creds.IngestSecret)
	f := &fleet{srv: srv, projectID: creds.ProjectID, otlpHTTP: freePort(t)}
	prom := freePort(t)
	f.promURL = "http://" + prom + "/metrics"
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(collectorConfig, f.otlpHTTP, creds.BaseURL, creds.ProjectID, prom)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	runCollector(t, settings("file:"+path))
	return f
}

// runCollector runs a Collector until the test ends.
func runCollector(t testing.TB, set otelcol.CollectorSettings) {
	t.Helper()
	col, err := otelcol.NewCollector(set)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- col.Run(context.Background()) }()
	t.Cleanup(func() {
		col.Shutdown()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for col.GetState() != otelcol.StateRunning {
		select {
		case err := <-done:
			t.Fatalf("collector stopped while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector is %v, not running", col.GetState())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitBreaker waits until the server's evaluation has put the breaker in
// state want.
func (f *fleet) waitBreaker(t *testing.T, breaker, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		state, _, err := f.srv.BreakerState(f.projectID, breaker)
		if err != nil {
			t.Fatal(err)
		}
		if state == want {
			return
		}
		if time.Now().After(deadline) {
			v, n, _ := f.srv.Aggregate(f.projectID, breaker)
			t.Fatalf("breaker %s is %s (aggregate %v over %d samples), want %s", breaker, state, v, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitScrape waits until the Prometheus exporter shows the breaker's
// state series for state with value 1, and returns that line.
func (f *fleet) waitScrape(t *testing.T, breaker, state string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		line, err := scrapeState(f.promURL, breaker, state)
		if err == nil {
			return line
		}
		last = err.Error()
		if time.Now().After(deadline) {
			t.Fatalf("scrape: %s", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func scrapeState(url, breaker, state string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var seen []string
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "tripswitch_breaker_state") || !strings.Contains(l, `tripswitch_breaker_name="`+breaker+`"`) {
			continue
		}
		seen = append(seen, l)
		if !strings.Contains(l, `tripswitch_breaker_state="`+state+`"`) {
			continue
		}
		fields := strings.Fields(l)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil && v == 1 {
			return l, nil
		}
	}
	return "", fmt.Errorf("no %s=1 series for %s among %q", state, breaker, seen)
}

// TestCollectorTripsBreakerFromOTLPSpans sends server spans from an OTel
// Go SDK program over OTLP/HTTP to a Collector of this distribution; the
// tripswitch exporter turns them into signed samples, the local server's
// breaker trips, and the tripswitch receiver in the same Collector
// publishes the open state through the Prometheus exporter.
func TestCollectorTripsBreakerFromOTLPSpans(t *testing.T) {
	f := startFleet(t)
	ctx := context.Background()

	// Before: the receiver publishes the closed state.
	f.waitScrape(t, "payments-p95", "closed")

	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(f.otlpHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("checkout"))),
	)
	tracer := tp.Tracer("checkout-http")
	end := time.Now()
	for i := range 40 {
		start := end.Add(-time.Duration(400+i) * time.Millisecond) // 400–439 ms
		_, span := tracer.Start(ctx, "GET /pay", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start))
		span.SetAttributes(semconv.HTTPRoute("/pay"), semconv.HTTPResponseStatusCode(200))
		span.End(trace.WithTimestamp(end))
	}
	// A span no rule selects.
	_, other := tracer.Start(ctx, "GET /health", trace.WithSpanKind(trace.SpanKindServer))
	other.End()
	shutdownCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := tp.Shutdown(shutdownCtx); err != nil { // exports everything
		t.Fatal(err)
	}

	f.waitBreaker(t, "payments-p95", "open")
	samples := f.srv.Samples(f.projectID)
	if len(samples) != 40 {
		t.Fatalf("server holds %d samples, want one per selected span (40)", len(samples))
	}
	for _, s := range samples {
		if s.RouterID != "rtr_payments" || s.Metric != "latency" || !s.OK || s.Value < 400 || s.Value >= 440 ||
			len(s.TraceID) != 32 || s.Tags["service.name"] != "checkout" || s.Tags["http.route"] != "/pay" {
			t.Fatalf("sample %+v, want latency 400–439 ms, ok, a trace ID, and tags service.name (from the resource) and http.route", s)
		}
	}
	line := f.waitScrape(t, "payments-p95", "open")
	t.Logf("scraped: %s", line)
	if _, err := scrapeState(f.promURL, "payments-p95", "closed"); err == nil {
		t.Error("the closed state still reads 1 after the breaker opened")
	}
}
