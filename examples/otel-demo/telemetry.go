package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Export intervals of the periodic metric readers.
const (
	otlpMetricInterval = 5 * time.Second
	forwardInterval    = time.Second
)

// otlpTimeout bounds one OTLP export, retries included, so that an
// unreachable collector cannot hold up the end of the run for long.
const otlpTimeout = 5 * time.Second

// latencyBuckets are the bucket bounds, in seconds, of otelhttp's request
// durations. otelhttp's defaults jump from 1 s to 2.5 s, so a p95 of
// checkout's 1 s timeout read back through histogram_quantile came out near
// 2.2 s; these follow the demo's range (a few ms to the 1 s timeout) closely.
var latencyBuckets = []float64{
	0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
	0.6, 0.7, 0.8, 0.9, 1, 1.05, 1.1, 1.25, 1.5, 2, 5,
}

// latencyViews give otelhttp's request-duration histograms latencyBuckets.
func latencyViews() []sdkmetric.Option {
	var out []sdkmetric.Option
	for _, name := range []string{"http.server.request.duration", "http.client.request.duration"} {
		out = append(out, sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Name: name, Scope: instrumentation.Scope{Name: otelhttp.ScopeName}},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBuckets}},
		)))
	}
	return out
}

// telemetry holds the demo's OpenTelemetry pipeline: one MeterProvider
// (read by Prometheus, OTLP when enabled, and the Tripswitch exporter) and
// two TracerProviders, one per service, so that traces show checkout and
// payments as two services.
type telemetry struct {
	meters     *sdkmetric.MeterProvider
	checkout   *sdktrace.TracerProvider
	payments   *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
	metrics    http.Handler // Prometheus exposition; nil when disabled
	otlp       *otlpStatus  // nil when OTLP is off
}

// newTelemetry builds the pipeline; forward is the Tripswitch exporter,
// read every forwardInterval.
func newTelemetry(ctx context.Context, cfg config, forward sdkmetric.Exporter) (*telemetry, error) {
	t := &telemetry{
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	checkoutRes, err := serviceResource(ctx, "checkout")
	if err != nil {
		return nil, err
	}
	paymentsRes, err := serviceResource(ctx, "payments")
	if err != nil {
		return nil, err
	}

	readers := append(latencyViews(),
		sdkmetric.WithResource(checkoutRes),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(forward, sdkmetric.WithInterval(forwardInterval))),
	)
	if cfg.MetricsAddr != "" {
		reg := prometheus.NewRegistry()
		prom, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, fmt.Errorf("prometheus exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(prom))
		t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	var checkoutSpans, paymentsSpans []sdktrace.TracerProviderOption
	if cfg.OTLP {
		t.otlp = &otlpStatus{warn: cfg.warn}
		me, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithTimeout(otlpTimeout),
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 2 * time.Second, MaxElapsedTime: otlpTimeout}))
		if err != nil {
			return nil, fmt.Errorf("OTLP metric exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(otlpMetrics{me, t.otlp}, sdkmetric.WithInterval(otlpMetricInterval))))
		// One exporter per TracerProvider: each shuts its own down.
		for _, opts := range []*[]sdktrace.TracerProviderOption{&checkoutSpans, &paymentsSpans} {
			te, err := otlptracehttp.New(ctx, otlptracehttp.WithTimeout(otlpTimeout),
				otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 2 * time.Second, MaxElapsedTime: otlpTimeout}))
			if err != nil {
				return nil, fmt.Errorf("OTLP trace exporter: %w", err)
			}
			*opts = append(*opts, sdktrace.WithBatcher(otlpSpans{te, t.otlp}, sdktrace.WithExportTimeout(otlpTimeout)))
		}
	}
	t.meters = sdkmetric.NewMeterProvider(readers...)
	t.checkout = sdktrace.NewTracerProvider(append(checkoutSpans, sdktrace.WithResource(checkoutRes))...)
	t.payments = sdktrace.NewTracerProvider(append(paymentsSpans, sdktrace.WithResource(paymentsRes))...)
	return t, nil
}

func serviceResource(ctx context.Context, service string) (*resource.Resource, error) {
	r, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", service),
			attribute.String("service.namespace", "tripswitch-demo"),
			attribute.String("service.version", tripswitch.Version),
		),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES wins
	)
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	return r, nil
}

// shutdown flushes and stops the tracer providers and the meter provider
// (whose last collection feeds the Tripswitch exporter), all three at
// once, so that a slow OTLP collector delays the end by one export at
// most. OTLP failures are in t.otlp, not in the error.
func (t *telemetry) shutdown(ctx context.Context) error {
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, stop := range []func(context.Context) error{t.checkout.Shutdown, t.payments.Shutdown, t.meters.Shutdown} {
		wg.Go(func() { errs[i] = stop(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
