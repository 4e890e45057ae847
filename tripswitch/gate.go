package tripswitch

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// Gate is a prepared two-step call, for code that cannot be a closure
// (middleware, streams, callbacks): Allow checks the breakers now and
// returns a Permit; the caller runs anything and reports the outcome once
// with Permit.Done or Permit.Finish. A Gate takes the same call options as
// Execute, except WithDeferredMetrics (report such metrics in
// Outcome.Metrics). Allow, Done, and Finish with an Outcome without maps
// allocate nothing beyond what metric functions and the trace-ID extractor
// allocate. A Gate is safe for concurrent use.
type Gate struct {
	call Call[struct{}]
}

// PrepareGate compiles opts for two-step calls.
func PrepareGate(c *Client, opts ...CallOption) (*Gate, error) {
	cfg := collectCallOptions(opts)
	if err := gateOptionsError(&cfg); err != nil {
		return nil, err
	}
	g := new(Gate)
	if err := g.call.init(c, &cfg, true); err != nil {
		return nil, err
	}
	return g, nil
}

// Allow is the unprepared form of Gate.Allow: it compiles opts for this one
// call. Invalid options return an error (ErrInvalidOption or
// ErrConflictingOptions) and no Permit.
func Allow(c *Client, ctx context.Context, opts ...CallOption) (Permit, error) {
	cfg := collectCallOptions(opts)
	if err := gateOptionsError(&cfg); err != nil {
		return Permit{}, err
	}
	if cfg.gateOnly() && (c.local == nil || c.fresh.Load()) {
		// No samples: nothing to compile and nothing to complete.
		if err := cfg.validate(); err != nil {
			return Permit{}, err
		}
		if cfg.single != "" {
			return Permit{}, c.gateOne(ctx, cfg.single)
		}
		return Permit{}, c.gateNames(ctx, cfg.breakers)
	}
	g := new(Gate)
	if err := g.call.init(c, &cfg, false); err != nil {
		return Permit{}, err
	}
	return g.Allow(ctx)
}

func gateOptionsError(cfg *callConfig) error {
	if cfg.deferred != nil {
		return optionError("WithDeferredMetrics", "not available for a gate; report such metrics in Outcome.Metrics")
	}
	return nil
}

// Allow decides, from the local state cache and without network I/O,
// whether the call may go ahead, exactly as Execute does. A rejected call
// returns a *BreakerError (matching ErrOpen) and a zero Permit; a router
// selector that cannot choose returns its error. Otherwise the returned
// Permit measures latency from this moment and stamps its samples with
// this time; ctx is the one the completion hands to the trace-ID extractor.
func (g *Gate) Allow(ctx context.Context) (Permit, error) {
	p := &g.call
	if err := p.gate(ctx); err != nil {
		return Permit{}, err
	}
	router := p.router
	if p.routerSel != nil {
		r, err := p.c.selectRouter(p.routerSel)
		if err != nil {
			return Permit{}, err
		}
		router = r
	}
	if router == "" && (p.c.local == nil || p.c.fresh.Load()) {
		return Permit{}, nil // no samples: nothing to report
	}
	s := permitPool.Get().(*permitSlot)
	s.call, s.ctx, s.router = p, ctx, router
	s.clk = p.c.clock.Load()
	s.start = s.clk.offset()
	return Permit{s: s, gen: s.gen.Load()}, nil
}

// Permit is a call let through by a gate, waiting for its outcome. Report
// the outcome once, with Done or Finish:
//
//   - The first completion emits the call's samples (one per metric, as
//     Execute does); any later completion of the same Permit, or of a copy,
//     from any goroutine, does nothing.
//   - A Permit never completed emits nothing and holds no goroutine, timer
//     or buffer space: it is garbage once unreachable.
//
// The zero Permit (returned for a call without a router, or with an error)
// is valid: completing it does nothing. While the local fallback policy
// gates the call (WithLocalFallback), a call without a router gets a
// pending Permit too: its outcome feeds the policy. Permit values are small; copy
// them freely.
type Permit struct {
	s   *permitSlot
	gen uint64
}

// Outcome is what a completed call reports.
type Outcome struct {
	// OK says whether the call succeeded. The zero Outcome is a failure.
	OK bool
	// Metrics are reported beside the gate's metrics (like
	// WithDeferredMetrics); names must be non-empty and values finite, or
	// the sample is skipped and counted as dropped.
	Metrics map[string]float64
	// Tags are added to the samples' tags and win over the gate's.
	Tags map[string]string
	// TraceID, when not empty, overrides the gate's trace ID (WithTraceID
	// or the client's extractor).
	TraceID string
}

// Done completes the call with its error: nil is a success, and a non-nil
// error is classified as Execute classifies a task's error
// (WithIgnoreErrors, WithErrorEvaluator).
func (p Permit) Done(err error) {
	s := p.claim()
	if s == nil {
		return
	}
	took := s.clk.offset() - s.start
	ok := s.call.ok(err)
	if s.router != "" {
		var sample wire.Sample
		s.call.emit(&sample, s.ctx, s.router, s.clk.wallNs(s.start), took, ok)
	}
	s.call.recordLocal(ok)
	s.release()
}

// Finish completes the call with an explicit outcome.
func (p Permit) Finish(o Outcome) {
	s := p.claim()
	if s == nil {
		return
	}
	took := s.clk.offset() - s.start
	call := s.call
	if len(o.Metrics) > 0 || len(o.Tags) > 0 || o.TraceID != "" {
		over := *call // a call-local copy carrying the outcome's additions
		if len(o.Metrics) > 0 {
			metrics := maps.Clone(o.Metrics)
			over.deferred = func(struct{}, error) map[string]float64 { return metrics }
		}
		if len(o.Tags) > 0 {
			over.tags = wire.Merge(call.tags, o.Tags)
		}
		if o.TraceID != "" {
			over.traceID = o.TraceID
		}
		call = &over
	}
	if s.router != "" {
		tsNs := s.clk.wallNs(s.start)
		var sample wire.Sample
		call.emit(&sample, s.ctx, s.router, tsNs, took, o.OK)
		if call.deferred != nil {
			emitDeferred(&call.callCore, sample, tsNs, call.deferred, struct{}{}, nil)
		}
	}
	s.call.recordLocal(o.OK)
	s.release()
}

// Pending reports whether the Permit is waiting for its outcome: it came
// from a gate with samples to report and has not been completed yet.
func (p Permit) Pending() bool {
	return p.s != nil && p.s.gen.Load() == p.gen
}

// permitSlot holds a pending call between Allow and its completion. Slots
// are recycled through permitPool; the generation counter makes every
// Permit single-use: completing advances it, so stale copies no longer
// match, even once the slot serves another call.
type permitSlot struct {
	gen    atomic.Uint64
	call   *Call[struct{}]
	ctx    context.Context
	router string
	clk    *anchor
	start  time.Duration
}

var permitPool = sync.Pool{New: func() any { return new(permitSlot) }}

// claim returns the slot to the first completion of p, nil to any other.
func (p Permit) claim() *permitSlot {
	s := p.s
	if s == nil || !s.gen.CompareAndSwap(p.gen, p.gen+1) {
		return nil
	}
	return s
}

// release clears a claimed slot and returns it to the pool.
func (s *permitSlot) release() {
	s.call, s.ctx, s.router, s.clk = nil, nil, "", nil
	permitPool.Put(s)
}
