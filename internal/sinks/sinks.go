// Package sinks lets code outside the SDK's packages run the span rules
// of otelbridge and the metric rules of exporter with the samples going
// somewhere other than a tripswitch.Client: the OpenTelemetry Collector
// components send them in their own signed batches, so that the
// Collector's queue and retry own delivery.
//
// otelbridge and exporter set the hooks in their init functions; a
// package that imports them may call the hooks.
package sinks

import (
	"context"
	"time"
)

// A Reporter receives the samples of one router, metric and tag set.
// *tripswitch.Reporter implements it.
type Reporter interface {
	Report(ctx context.Context, t time.Time, value float64, ok bool, traceID string) error
}

// A Factory returns the Reporter of one router, metric and tag set. The
// tags are the caller's: copy them to keep them.
type Factory func(router, metric string, tags map[string]string) (Reporter, error)

// Hooks set by the SDK packages.
var (
	// ExporterOption returns an exporter.Option that sends the exporter's
	// samples to f's reporters instead of its client's. Set by package
	// exporter.
	ExporterOption func(f Factory) any

	// ExporterStaleAfter returns an exporter.Option that forgets a
	// stream (and its cumulative state) once it has gone unreported for
	// d, rather than for 16 exports: a Collector exports once per push,
	// and pushes from many services interleave. Set by package exporter.
	ExporterStaleAfter func(d time.Duration) any

	// NewSpanProcessor returns an *otelbridge.SpanProcessor for rules
	// (an []otelbridge.Rule) whose samples go to f's reporters. Its
	// ForceFlush and Shutdown deliver nothing. Set by package otelbridge.
	NewSpanProcessor func(f Factory, rules any) (any, error)
)
