package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Exporter is an sdk/metric Exporter that forwards the instruments its
// rules select to Tripswitch routers as samples. Use it with a
// sdkmetric.PeriodicReader, beside any other readers.
//
// Temporality and Aggregation are safe for concurrent use. Export may be
// called concurrently (calls are serialised, and a waiting call gives up
// when its ctx ends). ForceFlush and Shutdown are safe for concurrent use.
type Exporter struct {
	client  atomic.Pointer[tripswitch.Client]
	rules   []*rule
	cfg     config
	logger  *slog.Logger
	created time.Time

	sem      chan struct{} // held by Export, Attach and Shutdown
	shut     atomic.Bool
	detached atomic.Uint64 // samples converted without a client

	// Guarded by sem.
	instruments map[instrumentKey]*instrument
	seq         uint64
	at          time.Time // time of the current export, with staleFor
	s           scratch
	limitWarned bool
}

var _ sdkmetric.Exporter = (*Exporter)(nil)

// New returns an Exporter that reports through client the data points of
// the instruments selected by rules. It returns a *RuleError (matching
// ErrInvalidRule) naming the first invalid rule and field, and an error
// for an invalid option. The rules are copied.
//
// client may be nil: a MeterProvider is usually built at start-up, before
// Tripswitch can be reached. The exporter is then detached: it converts
// what it is given, counts the samples in Stats().Detached without
// delivering them, and keeps its cumulative state, until Attach gives it
// a client.
//
// The client stays the caller's: Shutdown flushes it but does not close
// it. Close the client after shutting down the meter provider.
func New(client *tripswitch.Client, rules []Rule, opts ...Option) (*Exporter, error) {
	cfg := config{
		maxSamples:  DefaultMaxSamplesPerPoint,
		aggregation: sdkmetric.DefaultAggregationSelector,
		now:         time.Now,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if cfg.maxSamples <= 0 {
		return nil, optionError("WithMaxSamplesPerPoint", "must be positive, got %d", cfg.maxSamples)
	}
	if cfg.aggregation == nil {
		return nil, optionError("WithAggregationSelector", "nil selector")
	}
	rs, err := compileRules(rules)
	if err != nil {
		return nil, err
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{
		rules:       rs,
		cfg:         cfg,
		logger:      logger,
		created:     cfg.now(),
		sem:         make(chan struct{}, 1),
		instruments: make(map[instrumentKey]*instrument),
	}
	if client != nil {
		e.client.Store(client)
	}
	return e, nil
}

// Attach gives a detached exporter (made by New with a nil client) its
// client, after waiting for a running Export. Samples of later exports
// are queued in client; those converted before stay counted in
// Stats().Detached. Cumulative state kept while detached carries over, so
// the first export after Attach forwards only what is new since the
// previous export. Attach returns ErrAttached when the exporter has a
// client already, ErrShutdown after Shutdown, and an error for a nil
// client.
func (e *Exporter) Attach(client *tripswitch.Client) error {
	if client == nil {
		return fmt.Errorf("%w: Attach: nil client", ErrInvalidOption)
	}
	if e.shut.Load() {
		return ErrShutdown
	}
	e.sem <- struct{}{}
	defer func() { <-e.sem }()
	if e.shut.Load() {
		return ErrShutdown
	}
	if !e.client.CompareAndSwap(nil, client) {
		return ErrAttached
	}
	for _, in := range e.instruments {
		if in == nil {
			continue
		}
		for _, st := range in.streams {
			e.resink(in, st)
		}
	}
	return nil
}

// resink replaces the detached sinks of st's targets with the client's.
func (e *Exporter) resink(in *instrument, st *stream) {
	kept := st.targets[:0]
	for _, tg := range st.targets {
		if _, ok := tg.sink.(detachedSink); ok {
			s, err := e.sinkFor(tg.r.Router, tg.r.metricFor(in.name), tg.tags)
			if err != nil {
				e.warn(in, "sink", "tripswitch exporter: rule skipped", "rule", tg.r.index, "error", err)
				continue
			}
			tg.sink = s
		}
		kept = append(kept, tg)
	}
	clear(st.targets[len(kept):])
	st.targets = kept
}

// Stats are the exporter's counters.
type Stats struct {
	// Detached is the number of samples converted while the exporter had
	// no client (see New and Attach). They were not delivered.
	Detached uint64
}

// Stats returns the exporter's counters. Safe for concurrent use.
func (e *Exporter) Stats() Stats {
	return Stats{Detached: e.detached.Load()}
}

// sinkFor returns where the samples of one rule and attribute set go.
func (e *Exporter) sinkFor(router, metric string, tags map[string]string) (sink, error) {
	if e.cfg.newSink != nil {
		return e.cfg.newSink(router, metric, tags)
	}
	c := e.client.Load()
	if c == nil {
		return detachedSink{&e.detached}, nil
	}
	return c.NewReporter(router, metric, tags)
}

// detachedSink counts the samples of an exporter without a client.
type detachedSink struct{ n *atomic.Uint64 }

func (d detachedSink) Report(context.Context, time.Time, float64, bool, string) error {
	d.n.Add(1)
	return nil
}

func (d detachedSink) ReportValues(_ context.Context, _ time.Time, values []float64, _ bool, _ string) error {
	d.n.Add(uint64(len(values)))
	return nil
}

// Temporality returns the temporality the exporter asks the SDK for:
// cumulative for UpDownCounters (so that Rule.Total reports their level),
// delta for every other kind. A cumulative point of a kind asked for delta
// is accepted and differenced against the previous export. Safe for
// concurrent use.
func (e *Exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	switch k {
	case sdkmetric.InstrumentKindUpDownCounter, sdkmetric.InstrumentKindObservableUpDownCounter:
		return metricdata.CumulativeTemporality
	}
	return metricdata.DeltaTemporality
}

// Aggregation returns the aggregation for an instrument kind, from the
// selector set by WithAggregationSelector. Safe for concurrent use.
func (e *Exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return e.cfg.aggregation(k)
}

// Export converts the data points of the selected instruments into samples
// and queues them in the client's buffer; it never waits on the network
// and keeps no reference into rm once it returns. It returns ctx's error
// when ctx ends first (samples already queued stay queued), an error
// wrapping tripswitch.ErrClosed when the client is closed, and ErrShutdown
// after Shutdown.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if e.shut.Load() {
		return ErrShutdown
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.sem }()
	if e.shut.Load() {
		return ErrShutdown
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rm == nil {
		return nil
	}
	e.seq++
	if e.cfg.staleFor > 0 {
		e.at = e.cfg.now()
	}
	defer e.s.release()
	for i := range rm.ScopeMetrics {
		sm := &rm.ScopeMetrics[i]
		for j := range sm.Metrics {
			m := &sm.Metrics[j]
			in := e.instrument(sm.Scope.Name, sm.Scope.Version, m.Name, m.Unit)
			if in == nil {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := e.exportMetric(ctx, in, m.Data); err != nil {
				if errors.Is(err, tripswitch.ErrClosed) {
					return fmt.Errorf("exporter: tripswitch client is closed: %w", err)
				}
				return fmt.Errorf("exporter: %s: %w", m.Name, err)
			}
		}
	}
	if e.seq%sweepEvery == 0 {
		e.sweep()
	}
	return nil
}

func (e *Exporter) exportMetric(ctx context.Context, in *instrument, data metricdata.Aggregation) error {
	switch d := data.(type) {
	case metricdata.Sum[float64]:
		return exportSum(e, ctx, in, d)
	case metricdata.Sum[int64]:
		return exportSum(e, ctx, in, d)
	case metricdata.Gauge[float64]:
		return exportGauge(e, ctx, in, d)
	case metricdata.Gauge[int64]:
		return exportGauge(e, ctx, in, d)
	case metricdata.Histogram[float64]:
		return exportHistogram(e, ctx, in, d)
	case metricdata.Histogram[int64]:
		return exportHistogram(e, ctx, in, d)
	case metricdata.ExponentialHistogram[float64]:
		return exportExponential(e, ctx, in, d)
	case metricdata.ExponentialHistogram[int64]:
		return exportExponential(e, ctx, in, d)
	case metricdata.Summary:
		return exportSummary(e, ctx, in, d)
	}
	return nil
}

// ForceFlush delivers every sample buffered in the client now, and returns
// when they are delivered, when delivery fails (the samples stay queued
// for retry), or when ctx ends; a detached exporter has nothing to
// deliver. It returns ErrShutdown after Shutdown.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	if e.shut.Load() {
		return ErrShutdown
	}
	return e.flush(ctx)
}

// Shutdown waits for a running Export, releases the exporter's state and
// flushes the client as ForceFlush does, by ctx's deadline. It does not
// close the client. Every later call of Export, ForceFlush or Shutdown
// returns ErrShutdown.
func (e *Exporter) Shutdown(ctx context.Context) error {
	if !e.shut.CompareAndSwap(false, true) {
		return ErrShutdown
	}
	select {
	case e.sem <- struct{}{}:
		e.instruments = nil
		e.s = scratch{}
		<-e.sem
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.flush(ctx)
}

func (e *Exporter) flush(ctx context.Context) error {
	c := e.client.Load()
	if c == nil {
		return nil
	}
	if err := c.Flush(ctx); err != nil {
		return fmt.Errorf("exporter: flush: %w", err)
	}
	return nil
}

// pointTime returns a data point's time, or now when it has none.
func (e *Exporter) pointTime(t time.Time) time.Time {
	if t.IsZero() {
		return e.cfg.now()
	}
	return t
}
