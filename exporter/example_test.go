package exporter_test

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Forward otelhttp's client request durations to a router, failing 5xx
// responses, and see the samples a local Tripswitch server receives.
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
		Routers: []localserver.SeedRouter{{ID: "rtr_payments", Name: "payments"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments-p95", Metric: "latency", Kind: "p95", Op: "gt", Threshold: 500, // milliseconds
			RouterIDs: []string{"rtr_payments"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}

	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	exp, err := exporter.New(client, []exporter.Rule{{
		Instrument: "http.client.request.duration",
		Router:     "rtr_payments",
		Metric:     "latency",
		OK:         exporter.OKBelowHTTPStatus(500),
		TagKeys:    []attribute.Key{"http.response.status_code"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	// What otelhttp records for four requests, in seconds; the samples
	// carry milliseconds.
	duration, _ := mp.Meter("example").Float64Histogram("http.client.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	ok := metric.WithAttributes(attribute.Int("http.response.status_code", 200))
	failed := metric.WithAttributes(attribute.Int("http.response.status_code", 503))
	duration.Record(ctx, 0.040, ok)
	duration.Record(ctx, 0.060, ok)
	duration.Record(ctx, 0.200, ok)
	duration.Record(ctx, 0.900, failed)

	// Collect, export and deliver now rather than at the next interval.
	if err := reader.ForceFlush(ctx); err != nil {
		log.Fatal(err)
	}
	samples := srv.Samples(creds.ProjectID)
	slices.SortFunc(samples, func(a, b localserver.Sample) int { return cmp.Compare(a.Value, b.Value) })
	for _, s := range samples {
		fmt.Printf("%s %s %.0f ok=%t status=%s\n", s.RouterID, s.Metric, s.Value, s.OK, s.Tags["http.response.status_code"])
	}
	// Output:
	// rtr_payments latency 40 ok=true status=200
	// rtr_payments latency 60 ok=true status=200
	// rtr_payments latency 200 ok=true status=200
	// rtr_payments latency 900 ok=false status=503
}

// Build the exporter, and the MeterProvider that reads it, at start-up,
// before Tripswitch can be reached; attach the client once it exists.
func ExampleExporter_Attach() {
	ctx := context.Background()
	exp, err := exporter.New(nil, []exporter.Rule{{
		Instrument: "http.client.request.duration", // seconds; the samples carry milliseconds
		Router:     "rtr_payments",
		Metric:     "latency",
		OK:         exporter.OKBelowHTTPStatus(500),
	}})
	if err != nil {
		log.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)
	duration, _ := mp.Meter("example").Float64Histogram("http.client.request.duration", metric.WithUnit("s"))
	duration.Record(ctx, 0.120) // recorded before the client exists
	_ = reader.ForceFlush(ctx)

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
		Routers: []localserver.SeedRouter{{ID: "rtr_payments", Name: "payments"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments-p95", Metric: "latency", Kind: "p95", Op: "gt", Threshold: 300,
			RouterIDs: []string{"rtr_payments"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
	if err := exp.Attach(client); err != nil {
		log.Fatal(err)
	}
	duration.Record(ctx, 0.250)
	if err := reader.ForceFlush(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("counted before the client:", exp.Stats().Detached)
	for _, s := range srv.Samples(creds.ProjectID) {
		fmt.Printf("delivered: %s %s %.0f\n", s.RouterID, s.Metric, s.Value)
	}
	// Output:
	// counted before the client: 1
	// delivered: rtr_payments latency 250
}
