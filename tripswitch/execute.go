package tripswitch

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// Execute runs task under the breakers and reporting the options name, and
// returns its result.
//
// The gate is decided from the local state cache, without network I/O: any
// named breaker open rejects the call; otherwise, if some are half-open,
// the call runs with probability equal to the smallest allow rate among
// them. A rejected call returns a *BreakerError (matching ErrOpen) and does
// not run task. With a router, every metric of the call becomes one sample
// carrying the same router, ok, timestamp (task start), tags and trace ID.
//
// A panic in task is reported as a failed sample and then continues
// unchanged. Panics in metric functions, deferred metrics, selectors, the
// trace-ID extractor and hooks are recovered and logged.
//
// Invalid options return an error (ErrInvalidOption or
// ErrConflictingOptions) before anything runs.
//
// The client keeps the compiled form of up to 256 sets of plain options
// (one breaker, a router, up to two Latency or constant metrics given with
// WithMetric or WithMetrics, a trace ID), so that repeating such a call
// costs about as much as a prepared one and allocates nothing. Calls with
// other options (selectors, tags, metric functions, several breakers)
// compile their options each time: Prepare them once for hot paths.
func Execute[T any](c *Client, ctx context.Context, task func() (T, error), opts ...CallOption) (T, error) {
	if routed(opts) {
		if p := c.calls.find(opts); p != nil {
			// The steady state: options seen before, compiled once.
			return runCall[T](p, nil, ctx, task)
		}
	}
	cfg := collectCallOptions(opts)
	if cfg.gateOnly() && (c.local == nil || c.fresh.Load()) {
		// Fast path: no samples, nothing to compile.
		if err := cfg.validate(); err != nil {
			var zero T
			return zero, err
		}
		var err error
		if cfg.single != "" {
			err = c.gateOne(ctx, cfg.single)
		} else {
			err = c.gateNames(ctx, cfg.breakers)
		}
		if err != nil {
			var zero T
			return zero, err
		}
		return task()
	}
	var p Call[T]
	if err := p.init(c, &cfg, false); err != nil {
		var zero T
		return zero, err
	}
	if p.deferred == nil {
		c.calls.add(opts, &p.callCore, c.states)
	}
	return p.Execute(ctx, task)
}

// Call is a prepared set of call options: the options are checked and
// compiled once, breaker names resolved, and tags merged, so that each
// Execute does no option parsing and allocates nothing beyond what the
// task, metric functions and trace-ID extractor allocate. A Call is safe
// for concurrent use.
type Call[T any] struct {
	callCore
	deferred func(T, error) map[string]float64
}

// callCore is the part of a compiled call that does not depend on its
// result type; unprepared calls share cached cores (see callCache).
type callCore struct {
	c          *Client
	cells      []*breakerCell // prepared: resolved breakers
	names      []string       // the named breakers (unprepared: looked up per call)
	breakerSel func([]BreakerMeta) []string
	router     string
	routerSel  func([]RouterMeta) string
	metrics    []metricSpec
	tags       *wire.Tags
	ignore     []error
	evaluator  func(error) bool
	traceID    string
}

// Prepare compiles opts for calls returning T.
func Prepare[T any](c *Client, opts ...CallOption) (*Call[T], error) {
	cfg := collectCallOptions(opts)
	p := new(Call[T])
	if err := p.init(c, &cfg, true); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Call[T]) init(c *Client, cfg *callConfig, prepared bool) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := p.callCore.init(c, cfg, prepared); err != nil {
		return err
	}
	if cfg.deferred != nil {
		fn, ok := cfg.deferred.(func(T, error) map[string]float64)
		if !ok {
			return deferredTypeError[T](cfg.deferred)
		}
		p.deferred = fn
	}
	return nil
}

// init compiles a validated configuration.
func (p *callCore) init(c *Client, cfg *callConfig, prepared bool) error {
	p.c = c
	p.names = slices.Clone(cfg.breakerNames())
	if prepared {
		p.cells = make([]*breakerCell, len(p.names))
		for i, name := range p.names {
			p.cells[i] = c.states.pin(name)
			c.names.noteBreaker(name)
		}
	}
	p.breakerSel = cfg.breakerSel
	p.router = cfg.router
	p.routerSel = cfg.routerSel
	p.metrics = slices.Clone(cfg.metrics)
	p.tags = c.globalTags
	if len(cfg.tags) > 0 {
		p.tags = wire.Merge(c.globalTags, cfg.tags)
	}
	p.ignore = slices.Clone(cfg.ignore)
	p.evaluator = cfg.evaluator
	p.traceID = cfg.traceID
	return nil
}

// Execute runs task under the prepared options; see the package-level
// Execute for the semantics.
func (p *Call[T]) Execute(ctx context.Context, task func() (T, error)) (T, error) {
	return runCall(&p.callCore, p.deferred, ctx, task)
}

// runCall gates, runs task, and reports its samples (and, under the local
// fallback policy, its outcome).
func runCall[T any](p *callCore, deferred func(T, error) map[string]float64, ctx context.Context, task func() (T, error)) (T, error) {
	c := p.c
	if err := p.gate(ctx); err != nil {
		var zero T
		return zero, err
	}
	router := p.router
	if p.routerSel != nil {
		r, err := c.selectRouter(p.routerSel)
		if err != nil {
			var zero T
			return zero, err
		}
		router = r
	}
	if router == "" {
		if c.local == nil || c.fresh.Load() {
			return task()
		}
		return runLocal(p, task)
	}

	clk := c.clock.Load()
	start := clk.offset()
	finished := false
	var res T
	var err error
	defer func() {
		if !finished {
			// task panicked: report a failure and let the panic go on.
			var s wire.Sample
			p.emit(&s, ctx, router, clk.wallNs(start), clk.offset()-start, false)
			p.recordLocal(false)
		}
	}()
	res, err = task()
	finished = true
	ok := p.ok(err)
	tsNs := clk.wallNs(start)
	var s wire.Sample
	p.emit(&s, ctx, router, tsNs, clk.offset()-start, ok)
	if deferred != nil {
		emitDeferred(p, s, tsNs, deferred, res, err)
	}
	if c.local != nil {
		p.recordLocal(ok)
	}
	return res, err
}

// runLocal runs a call without samples under the local fallback policy,
// which needs its outcome.
func runLocal[T any](p *callCore, task func() (T, error)) (res T, err error) {
	finished := false
	defer func() {
		if !finished {
			p.recordLocal(false)
		}
	}()
	res, err = task()
	finished = true
	p.recordLocal(p.ok(err))
	return res, err
}

var errTaskPanicked = errors.New("tripswitch: task panicked")

// gate decides whether the call may run.
func (p *callCore) gate(ctx context.Context) error {
	c := p.c
	switch {
	case p.breakerSel != nil:
		names, err := c.selectBreakers(p.breakerSel)
		if err != nil {
			return err
		}
		return c.gateNames(ctx, names)
	case p.cells == nil:
		return c.gateNames(ctx, p.names)
	case len(p.cells) == 0:
		return nil
	}
	if !c.fresh.Load() {
		return c.unsynced(ctx, p.cells[0], p.names)
	}
	var v verdict
	for _, cell := range p.cells {
		if err := v.weigh(cell); err != nil {
			return c.reject(ctx, err)
		}
	}
	if v.unknown {
		for _, cell := range p.cells {
			if !cell.cur.Load().known {
				c.names.noteBreaker(cell.name)
			}
		}
	}
	if v.throttler == nil {
		return nil
	}
	return v.throttle(ctx, c)
}

// gateOne gates on one breaker looked up by name: gateNames without the
// slice, for Execute's fast path.
func (c *Client) gateOne(ctx context.Context, name string) error {
	if !c.fresh.Load() {
		switch {
		case c.local != nil:
			return c.local.gate(ctx, c, name)
		case c.failOpen:
			return nil
		}
		return c.reject(ctx, c.states.cell(name).errUnavailable)
	}
	var v verdict
	if err := v.weigh(c.states.lookup(name)); err != nil {
		return c.reject(ctx, err)
	}
	if v.unknown {
		c.names.noteBreaker(name)
	}
	if v.throttler == nil {
		return nil
	}
	return v.throttle(ctx, c)
}

// gateNames gates on breakers looked up by name in the current snapshot.
func (c *Client) gateNames(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if !c.fresh.Load() {
		return c.unsynced(ctx, nil, names)
	}
	var v verdict
	for _, name := range names {
		if err := v.weigh(c.states.lookup(name)); err != nil {
			return c.reject(ctx, err)
		}
	}
	if v.unknown {
		for _, name := range names {
			if cell := c.states.lookup(name); cell == nil || !cell.cur.Load().known {
				c.names.noteBreaker(name)
			}
		}
	}
	if v.throttler == nil {
		return nil
	}
	return v.throttle(ctx, c)
}

// unsynced gates a call on names while the client has no fresh state: the
// local fallback policy decides when there is one; otherwise the call
// runs (fail-open) or is rejected as unavailable, naming the first breaker
// (cell, else looked up by name).
func (c *Client) unsynced(ctx context.Context, cell *breakerCell, names []string) error {
	if c.local != nil {
		return c.local.gate(ctx, c, names...)
	}
	if c.failOpen {
		return nil
	}
	if cell == nil {
		cell = c.states.cell(names[0])
	}
	return c.reject(ctx, cell.errUnavailable)
}

// verdict accumulates the gate over a call's breakers: any open rejects;
// the smallest allow rate among half-open ones throttles.
type verdict struct {
	throttler *breakerCell
	rate      float64
	unknown   bool // some breaker has no state from the stream
}

// weigh adds one breaker (nil: never heard of, so closed) and returns the
// rejection when it is open.
func (v *verdict) weigh(cell *breakerCell) *BreakerError {
	if cell == nil {
		v.unknown = true
		return nil
	}
	cs := cell.cur.Load()
	switch cs.state {
	case StateClosed:
		v.unknown = v.unknown || !cs.known
	case StateOpen:
		return cell.errOpen
	case StateHalfOpen:
		if v.throttler == nil || cs.allowRate < v.rate {
			v.rate, v.throttler = cs.allowRate, cell
		}
	}
	return nil
}

// throttle draws against the smallest half-open allow rate.
func (v *verdict) throttle(ctx context.Context, c *Client) error {
	if !(c.randFloat() < v.rate) {
		return c.reject(ctx, v.throttler.errThrottled)
	}
	return nil
}

func (c *Client) reject(ctx context.Context, err *BreakerError) error {
	for _, fn := range c.onRejected {
		c.safely("Rejected hook", func() { fn(ctx, err) })
	}
	return err
}

// ok classifies the task's error (PROTOCOL.md §7).
func (p *callCore) ok(err error) bool {
	if err == nil {
		return true
	}
	if p.evaluator != nil {
		failed := true
		p.c.safely("error evaluator", func() { failed = p.evaluator(err) })
		return !failed
	}
	for _, ig := range p.ignore {
		if errors.Is(err, ig) {
			return true
		}
	}
	return false
}

// emit queues one sample per metric of the call, leaving in s their
// template for the deferred metrics. The template is filled in place: it
// is as large as ten words, and returning it costs a copy each call.
func (p *callCore) emit(s *wire.Sample, ctx context.Context, router string, tsNs int64, took time.Duration, ok bool) {
	c := p.c
	p.sample(s, ctx, router, tsNs, ok)
	for i := range p.metrics {
		m := &p.metrics[i]
		s.Metric = m.name
		switch m.kind {
		case metricConst:
			s.Value = m.value
		case metricLatency:
			s.Value = float64(took) / float64(time.Millisecond)
		case metricFunc:
			v, good := c.metricValue(m)
			if !good {
				c.pipe.reject(1, false)
				continue
			}
			s.Value = v
		}
		c.queue(s, tsNs)
	}
}

// sample fills s with the template of the call's samples.
func (p *callCore) sample(s *wire.Sample, ctx context.Context, router string, tsNs int64, ok bool) {
	*s = wire.Sample{
		RouterID: router,
		TsMs:     tsNs / int64(time.Millisecond),
		OK:       ok,
		Tags:     p.tags,
		TraceID:  p.traceID,
	}
	if s.TraceID == "" && p.c.traceIDFn != nil {
		s.TraceID = p.c.extractTraceID(ctx)
	}
}

// emitDeferred queues the samples of the deferred metrics, computed from
// the task's result.
func emitDeferred[T any](p *callCore, s wire.Sample, tsNs int64, deferred func(T, error) map[string]float64, res T, err error) {
	c := p.c
	var extra map[string]float64
	c.safely("deferred metrics", func() { extra = deferred(res, err) })
	for name, v := range extra {
		if name == "" || !finite(v) {
			c.logEvery(slog.LevelWarn, "deferred-metric-skipped", "tripswitch: deferred metric skipped", "metric", name, "value", v)
			c.pipe.reject(1, false)
			continue
		}
		s.Metric, s.Value = name, v
		c.queue(&s, tsNs)
	}
}

func (c *Client) metricValue(m *metricSpec) (v float64, ok bool) {
	c.safely("metric "+m.name, func() { v = m.fn(); ok = true })
	if ok && !finite(v) {
		c.logEvery(slog.LevelWarn, "metric-not-finite:"+m.name, "tripswitch: metric function returned a non-finite value; sample dropped", "metric", m.name, "value", v)
		ok = false
	}
	return v, ok
}
