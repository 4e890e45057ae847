package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
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

	readers := []sdkmetric.Option{
		sdkmetric.WithResource(checkoutRes),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(forward, sdkmetric.WithInterval(forwardInterval))),
	}
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
		me, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP metric exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(otlpMetricInterval))))
		// One exporter per TracerProvider: each shuts its own down.
		for _, opts := range []*[]sdktrace.TracerProviderOption{&checkoutSpans, &paymentsSpans} {
			te, err := otlptracehttp.New(ctx)
			if err != nil {
				return nil, fmt.Errorf("OTLP trace exporter: %w", err)
			}
			*opts = append(*opts, sdktrace.WithBatcher(te))
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

// shutdown flushes and stops the tracer providers, then the meter provider
// (whose last collection feeds the Tripswitch exporter).
func (t *telemetry) shutdown(ctx context.Context) error {
	return errors.Join(
		t.checkout.Shutdown(ctx),
		t.payments.Shutdown(ctx),
		t.meters.Shutdown(ctx),
	)
}
