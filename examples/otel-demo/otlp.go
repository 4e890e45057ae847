package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otlpStatus records how OTLP export went. OTLP is an optional extra of
// the demo: a collector that cannot be reached earns one warning on
// stderr and a line in the summary, and does not fail the run. It is safe
// for concurrent use.
type otlpStatus struct {
	warn io.Writer // the first failure is reported here at once

	mu       sync.Mutex
	exports  int
	failures int
	last     error
}

// exported records the outcome of one export.
func (s *otlpStatus) exported(err error) {
	s.mu.Lock()
	s.exports++
	if err != nil {
		s.failures++
	}
	s.mu.Unlock()
	s.failed(err)
}

// failed records an error of an export, a flush or a shutdown.
func (s *otlpStatus) failed(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	first := s.last == nil
	s.last = err
	s.mu.Unlock()
	if first && s.warn != nil {
		fmt.Fprintf(s.warn, "otel-demo: warning: OTLP export failed; the demo goes on without it: %v\n", err)
	}
}

// otlpReport is what the summary shows about OTLP export.
type otlpReport struct {
	Exports, Failures int   // exports of spans and metrics, and how many failed
	Last              error // the last error of an export, flush or shutdown
}

func (s *otlpStatus) report() otlpReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return otlpReport{Exports: s.exports, Failures: s.failures, Last: s.last}
}

// otlpSpans reports a span exporter's failures to status instead of to
// the SDK, so that they never fail a shutdown.
type otlpSpans struct {
	sdktrace.SpanExporter
	status *otlpStatus
}

func (e otlpSpans) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.status.exported(e.SpanExporter.ExportSpans(ctx, spans))
	return nil
}

func (e otlpSpans) Shutdown(ctx context.Context) error {
	e.status.failed(e.SpanExporter.Shutdown(ctx))
	return nil
}

// otlpMetrics does for a metric exporter what otlpSpans does for spans.
type otlpMetrics struct {
	sdkmetric.Exporter
	status *otlpStatus
}

func (e otlpMetrics) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.status.exported(e.Exporter.Export(ctx, rm))
	return nil
}

func (e otlpMetrics) ForceFlush(ctx context.Context) error {
	e.status.failed(e.Exporter.ForceFlush(ctx))
	return nil
}

func (e otlpMetrics) Shutdown(ctx context.Context) error {
	e.status.failed(e.Exporter.Shutdown(ctx))
	return nil
}
