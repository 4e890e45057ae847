package otelbridge

import (
	"context"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// eventRejected is the name of the span event added to the span of a
// rejected call.
const eventRejected = "tripswitch.breaker.rejected"

// pendingEvent is a hook event that arrived before Observe.
type pendingEvent struct {
	rejected *tripswitch.BreakerError // a rejection, or nil for a transition
	local    *tripswitch.LocalChange  // a change under the local fallback policy
	name     string
	from, to tripswitch.State
}

// onRejected is the Rejected hook: it runs on the caller's goroutine.
func (b *Bridge) onRejected(ctx context.Context, err *tripswitch.BreakerError) {
	if err == nil || b.stopped.Load() {
		return
	}
	bnd := b.bound.Load()
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		if bnd != nil {
			span.AddEvent(eventRejected, bnd.rejection(err).event)
		} else {
			span.AddEvent(eventRejected, rejectionEventOption(err))
		}
	}
	if bnd != nil {
		b.inst.rejections.Add(ctx, 1, bnd.rejection(err).add)
		return
	}
	b.hold(ctx, pendingEvent{rejected: err})
}

// onStateChange is the StateChange hook.
func (b *Bridge) onStateChange(name string, from, to tripswitch.State) {
	if b.stopped.Load() {
		return
	}
	ev := pendingEvent{name: name, from: from, to: to}
	if bnd := b.bound.Load(); bnd != nil {
		b.record(context.Background(), bnd, ev)
		return
	}
	b.hold(context.Background(), ev)
}

// onLocalChange is the LocalChange hook.
func (b *Bridge) onLocalChange(ch tripswitch.LocalChange) {
	if b.stopped.Load() {
		return
	}
	ev := pendingEvent{local: &ch}
	if bnd := b.bound.Load(); bnd != nil {
		b.record(context.Background(), bnd, ev)
		return
	}
	b.hold(context.Background(), ev)
}

// hold keeps ev until Observe, or records it when Observe won the race.
func (b *Bridge) hold(ctx context.Context, ev pendingEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped.Load() {
		return
	}
	if bnd := b.bound.Load(); bnd != nil {
		b.record(ctx, bnd, ev)
		return
	}
	if len(b.pending) < maxPending {
		b.pending = append(b.pending, ev)
	}
}

func (b *Bridge) record(ctx context.Context, bnd *binding, ev pendingEvent) {
	if ev.rejected != nil {
		b.inst.rejections.Add(ctx, 1, bnd.rejection(ev.rejected).add)
		return
	}
	if ch := ev.local; ch != nil {
		b.inst.localMoves.Add(ctx, 1, metric.WithAttributes(
			bnd.project,
			breakerNameKey.String(ch.Breaker),
			previousStateKey.String(ch.From.String()),
			breakerStateKey.String(ch.To.String()),
			localKey.Bool(ch.Local),
		))
		return
	}
	b.inst.transitions.Add(ctx, 1, metric.WithAttributes(
		bnd.project,
		breakerNameKey.String(ev.name),
		previousStateKey.String(ev.from.String()),
		breakerStateKey.String(ev.to.String()),
	))
}
