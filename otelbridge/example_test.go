package otelbridge_test

import (
	"context"
	"fmt"
	"log"
	"sort"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// A service with OpenTelemetry tracing and metrics adds Tripswitch: its
// server spans feed a breaker, its samples carry trace IDs, and the
// breaker's state appears among its metrics. A local server stands in for
// the hosted service.
func Example() {
	ctx := context.Background()
	srv, err := localserver.New(localserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	creds := srv.Credentials()
	err = srv.Seed(creds.ProjectID, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_checkout", Name: "checkout"}},
		Breakers: []localserver.SeedBreaker{{Name: "checkout-errors", Metric: "latency",
			Kind: "error_rate", Op: "gt", Threshold: 0.5, RouterIDs: []string{"rtr_checkout"}}},
	})
	if err != nil {
		log.Fatal(err)
	}

	// The application's existing metrics pipeline.
	reader := sdkmetric.NewManualReader()
	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer meterProvider.Shutdown(ctx)

	// Tripswitch, wired into it.
	bridge := otelbridge.New(otelbridge.WithMeterProvider(meterProvider))
	client, err := tripswitch.NewClient(ctx, creds.ProjectID, append(bridge.ClientOptions(),
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)...)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	if err := bridge.Observe(client); err != nil {
		log.Fatal(err)
	}
	defer bridge.Shutdown(ctx)

	spans, err := otelbridge.NewSpanProcessor(client, otelbridge.Rule{
		Name:   "GET /checkout",
		Kind:   trace.SpanKindServer,
		Router: "rtr_checkout",
		Metric: "latency",
		OK:     otelbridge.OKBelowHTTPStatus(500),
	})
	if err != nil {
		log.Fatal(err)
	}
	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tracerProvider.Shutdown(ctx)

	// The application serves a request that fails with a 503.
	_, span := tracerProvider.Tracer("shop").Start(ctx, "GET /checkout", trace.WithSpanKind(trace.SpanKindServer))
	span.SetAttributes(attribute.Int("http.response.status_code", 503))
	span.End()
	if err := tracerProvider.ForceFlush(ctx); err != nil { // delivers the samples now
		log.Fatal(err)
	}

	for _, s := range srv.Samples(creds.ProjectID) {
		fmt.Printf("sample: router=%s metric=%s ok=%v span's trace ID=%v\n",
			s.RouterID, s.Metric, s.OK, s.TraceID == span.SpanContext().TraceID().String())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "tripswitch.breaker.state" {
				for _, dp := range sum.DataPoints {
					name, _ := dp.Attributes.Value("tripswitch.breaker.name")
					state, _ := dp.Attributes.Value("tripswitch.breaker.state")
					lines = append(lines, fmt.Sprintf("%s %s %s = %d", m.Name, name.AsString(), state.AsString(), dp.Value))
				}
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// sample: router=rtr_checkout metric=latency ok=false span's trace ID=true
	// tripswitch.breaker.state checkout-errors closed = 1
	// tripswitch.breaker.state checkout-errors half_open = 0
	// tripswitch.breaker.state checkout-errors open = 0
}
