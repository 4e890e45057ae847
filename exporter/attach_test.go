package exporter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestSecondsHistogramTripsMillisecondBreaker builds the exporter before
// the client, as an application builds its MeterProvider at start-up,
// feeds it otelhttp's http.client.request.duration (seconds), attaches the
// client, and checks that a "p95(latency) > 300" breaker, written in
// milliseconds like every other latency breaker, trips at the local server.
func TestSecondsHistogramTripsMillisecondBreaker(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_payments", Name: "payments"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments-p95", Metric: "latency", Kind: "p95", Op: "gt", Threshold: 300,
			WindowMs: time.Hour.Milliseconds(), MinCount: 10, RouterIDs: []string{"rtr_payments"},
		}},
	})

	exp, err := exporter.New(nil, []exporter.Rule{{
		Instrument: "http.client.request.duration",
		Router:     "rtr_payments",
		Metric:     "latency",
		OK:         exporter.OKBelowHTTPStatus(500),
	}})
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	duration, err := mp.Meter("test").Float64Histogram("http.client.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(otelhttpBounds...))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	status := metric.WithAttributes(attribute.Int("http.response.status_code", 200))

	// Before the client exists: converted and counted, not delivered.
	for range 7 {
		duration.Record(ctx, 0.8, status)
	}
	if err := reader.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush while detached: %v", err)
	}
	if got := exp.Stats().Detached; got != 7 {
		t.Errorf("Stats().Detached = %d, want 7", got)
	}

	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := mp.Shutdown(ctx); err != nil { // before the client: it flushes the last export
			t.Errorf("meter provider shutdown: %v", err)
		}
		_ = client.Close(ctx)
	})
	if err := exp.Attach(client); err != nil {
		t.Fatal(err)
	}
	if err := exp.Attach(client); !errors.Is(err, exporter.ErrAttached) {
		t.Errorf("second Attach: err = %v, want ErrAttached", err)
	}

	// 0.8 s requests: 800 ms samples, above the 300 ms threshold.
	for range 20 {
		duration.Record(ctx, 0.8, status)
	}
	flushCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := reader.ForceFlush(flushCtx); err != nil {
		t.Fatal(err)
	}
	samples := srv.Samples(creds.ProjectID)
	if len(samples) != 20 {
		t.Fatalf("server received %d samples, want the 20 recorded after Attach", len(samples))
	}
	for _, s := range samples {
		if s.Value < 750 || s.Value > 1000 {
			t.Fatalf("sample value %v, want milliseconds in the 0.75–1 s bucket", s.Value)
		}
	}
	if got := exp.Stats().Detached; got != 7 {
		t.Errorf("Stats().Detached = %d after Attach, want still 7", got)
	}
	waitState(t, srv, creds.ProjectID, "payments-p95", "open")
}

// waitState waits until the server's evaluation loop has put the breaker
// in state.
func waitState(t *testing.T, srv *localserver.Server, projectID, breaker, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		state, _, err := srv.BreakerState(projectID, breaker)
		if err != nil {
			t.Fatal(err)
		}
		if state == want {
			return
		}
		if time.Now().After(deadline) {
			v, n, _ := srv.Aggregate(projectID, breaker)
			t.Fatalf("breaker %s is %s (aggregate %v over %d samples), want %s", breaker, state, v, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttachErrors checks the errors of Attach and that a detached
// exporter flushes and shuts down without a client.
func TestAttachErrors(t *testing.T) {
	exp, err := exporter.New(nil, []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Attach(nil); !errors.Is(err, exporter.ErrInvalidOption) {
		t.Errorf("Attach(nil) = %v, want ErrInvalidOption", err)
	}
	if err := exp.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush while detached: %v", err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown while detached: %v", err)
	}
	if err := exp.Attach(offlineClient(t)); !errors.Is(err, exporter.ErrShutdown) {
		t.Errorf("Attach after Shutdown: err = %v, want ErrShutdown", err)
	}
}

// TestAttachKeepsCumulativeState exports a cumulative sum while detached
// and again after Attach: the server receives only the increase since the
// detached export.
func TestAttachKeepsCumulativeState(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_1", Name: "r"}},
		Breakers: []localserver.SeedBreaker{{Name: "b", Metric: "requests", Kind: "sum", Op: "gt", Threshold: 1e9,
			RouterIDs: []string{"rtr_1"}}},
	})
	exp, err := exporter.New(nil, []exporter.Rule{{Instrument: "requests", Router: "rtr_1", Metric: "requests"}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	point := func(v int64) *metricdata.ResourceMetrics {
		return rmOf("s", metricdata.Metrics{Name: "requests", Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{StartTime: start, Time: time.Now(), Value: v}},
		}})
	}
	ctx := context.Background()
	if err := exp.Export(ctx, point(10)); err != nil {
		t.Fatal(err)
	}
	client, err := tripswitch.NewClient(ctx, creds.ProjectID, tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey), tripswitch.WithIngestSecret(creds.IngestSecret))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(ctx)
	if err := exp.Attach(client); err != nil {
		t.Fatal(err)
	}
	if err := exp.Export(ctx, point(15)); err != nil {
		t.Fatal(err)
	}
	if err := exp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	samples := srv.Samples(creds.ProjectID)
	if len(samples) != 1 || samples[0].Value != 5 {
		t.Fatalf("server received %+v, want one sample of 5 (15 less the 10 seen while detached)", samples)
	}
	if got := exp.Stats().Detached; got != 1 {
		t.Errorf("Stats().Detached = %d, want 1", got)
	}
}
