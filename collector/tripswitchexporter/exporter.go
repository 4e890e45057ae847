package tripswitchexporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.uber.org/zap"

	tsexporter "github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/internal/ingest"
	"github.com/tripswitch-otel/tripswitch-go/internal/sinks"
	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
)

// tsExporter converts one pipeline's telemetry into samples and sends
// each push as one signed batch; the Collector's queue and retry own
// delivery.
type tsExporter struct {
	sender *ingest.Sender
	http   *http.Client // its own transport: Shutdown closes its connections
	logger *zap.Logger

	// Spans: conversion is serialised so that a push takes exactly its
	// own samples.
	spanMu    sync.Mutex
	spans     *otelbridge.SpanProcessor
	spanBatch batch
	spanConv  spanConverter

	metricMu    sync.Mutex
	metrics     *tsexporter.Exporter
	metricBatch batch

	retries pending
}

func newExporter(c *Config, set exporter.Settings) (*tsExporter, error) {
	rules, err := c.rules()
	if err != nil {
		return nil, err
	}
	metricRules, err := c.metricRules()
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	sender, err := ingest.NewSender(c.Endpoint, c.ProjectID, string(c.IngestSecret), hc)
	if err != nil {
		return nil, fmt.Errorf("tripswitch exporter: %w", err)
	}
	e := &tsExporter{sender: sender, http: hc, logger: set.Logger, retries: pending{max: maxPending}}
	if len(rules) > 0 {
		if e.spans, err = newSpanEngine(e.spanBatch.factory, rules); err != nil {
			return nil, err
		}
	}
	if len(metricRules) > 0 {
		opts := []tsexporter.Option{
			sinks.ExporterOption(e.metricBatch.factory).(tsexporter.Option),
			sinks.ExporterStaleAfter(streamIdle).(tsexporter.Option),
		}
		if e.metrics, err = tsexporter.New(nil, metricRules, opts...); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func newSpanEngine(f sinks.Factory, rules []otelbridge.Rule) (*otelbridge.SpanProcessor, error) {
	p, err := sinks.NewSpanProcessor(f, rules)
	if err != nil {
		return nil, err
	}
	return p.(*otelbridge.SpanProcessor), nil
}

var nopFactory sinks.Factory = func(string, string, map[string]string) (sinks.Reporter, error) {
	return nopReporter{}, nil
}

type nopReporter struct{}

func (nopReporter) Report(context.Context, time.Time, float64, bool, string) error { return nil }

func (e *tsExporter) shutdown(ctx context.Context) error {
	defer e.http.CloseIdleConnections()
	var errs []error
	if e.spans != nil {
		errs = append(errs, e.spans.Shutdown(ctx))
	}
	if e.metrics != nil {
		if err := e.metrics.Shutdown(ctx); err != nil && !errors.Is(err, tsexporter.ErrShutdown) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// send delivers the samples of one push. A failure the server would
// repeat is permanent; otherwise the samples are kept under key so that
// the Collector's retry of the same request sends them again instead of
// converting anew (a metric stream's cumulative state has moved on).
func (e *tsExporter) send(ctx context.Context, key any, samples []wire.Sample) error {
	err := e.sender.Send(ctx, samples)
	if err == nil {
		return nil
	}
	var se *ingest.StatusError
	if errors.As(err, &se) {
		if se.Permanent() {
			return consumererror.NewPermanent(fmt.Errorf("tripswitch exporter: %d samples refused: %w", len(samples), err))
		}
		e.retries.put(key, samples)
		if se.RetryAfter > 0 {
			return exporterhelper.NewThrottleRetry(err, se.RetryAfter)
		}
		return err
	}
	e.retries.put(key, samples)
	return fmt.Errorf("tripswitch exporter: sending %d samples: %w", len(samples), err)
}

// streamIdle is how long a metric stream (instrument, resource and
// attributes) may go unreported before its cumulative state is
// forgotten. Pushes of many services interleave, so it is a time rather
// than a number of exports.
const streamIdle = 10 * time.Minute

// maxPending bounds the requests whose samples are kept for a retry (the
// Collector retries at most num_consumers requests at a time; older
// entries are requests whose retries ran out).
const maxPending = 32

// pending holds the samples of failed requests until they are retried.
type pending struct {
	mu    sync.Mutex
	max   int
	order []any
	m     map[any][]wire.Sample
}

func (p *pending) put(key any, s []wire.Sample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[any][]wire.Sample)
	}
	if _, ok := p.m[key]; !ok {
		p.order = append(p.order, key)
	}
	p.m[key] = s
	for len(p.order) > p.max {
		delete(p.m, p.order[0])
		p.order = p.order[1:]
	}
}

func (p *pending) take(key any) ([]wire.Sample, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.m[key]
	if ok {
		delete(p.m, key)
		for i, k := range p.order {
			if k == key {
				p.order = append(p.order[:i], p.order[i+1:]...)
				break
			}
		}
	}
	return s, ok
}

// batch collects the samples of the push being converted; it is guarded
// by the mutex of its signal.
type batch struct{ samples []wire.Sample }

// take returns the collected samples and starts a new batch.
func (b *batch) take() []wire.Sample {
	s := b.samples
	b.samples = make([]wire.Sample, 0, cap(s))
	return s
}

// factory returns the reporter of one router, metric and tag set. It
// refuses a tag set beyond the ingest contract's limits, which the server
// would refuse with the whole batch; the span rules count such samples as
// refused.
func (b *batch) factory(router, metric string, tags map[string]string) (sinks.Reporter, error) {
	t := wire.NewTags(tags)
	if p := t.Problem(); p != "" {
		return nil, fmt.Errorf("tags of router %q, metric %q: %s", router, metric, p)
	}
	return &batchReporter{b: b, router: router, metric: metric, tags: t}, nil
}

// batchReporter appends the samples of one router, metric and tag set to
// its batch. The tag set, encoded once, is shared by its samples.
type batchReporter struct {
	b              *batch
	router, metric string
	tags           *wire.Tags
}

func (r *batchReporter) Report(_ context.Context, t time.Time, v float64, ok bool, traceID string) error {
	r.b.samples = append(r.b.samples, wire.Sample{
		RouterID: r.router, Metric: r.metric, TsMs: t.UnixMilli(), Value: v, OK: ok, Tags: r.tags, TraceID: traceID,
	})
	return nil
}

func (r *batchReporter) ReportValues(_ context.Context, t time.Time, values []float64, ok bool, traceID string) error {
	ts := t.UnixMilli()
	for _, v := range values {
		r.b.samples = append(r.b.samples, wire.Sample{
			RouterID: r.router, Metric: r.metric, TsMs: ts, Value: v, OK: ok, Tags: r.tags, TraceID: traceID,
		})
	}
	return nil
}
