package otelbridge

import (
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Attribute keys of the Bridge's instruments and span events.
const (
	projectKey       = attribute.Key("tripswitch.project.id")
	breakerNameKey   = attribute.Key("tripswitch.breaker.name")
	breakerStateKey  = attribute.Key("tripswitch.breaker.state")
	previousStateKey = attribute.Key("tripswitch.breaker.previous_state")
	reasonKey        = attribute.Key("tripswitch.rejection.reason")
	localKey         = attribute.Key("tripswitch.breaker.local")
)

// allStates lists the states the state metric reports for every breaker.
var allStates = [...]tripswitch.State{tripswitch.StateClosed, tripswitch.StateOpen, tripswitch.StateHalfOpen}

type instruments struct {
	meter metric.Meter

	// Fed by hooks.
	transitions metric.Int64Counter
	rejections  metric.Int64Counter
	localMoves  metric.Int64Counter

	// Observed at collection.
	state          metric.Int64ObservableUpDownCounter
	allowRate      metric.Float64ObservableGauge
	breakers       metric.Int64ObservableUpDownCounter
	localState     metric.Int64ObservableUpDownCounter
	produced       metric.Int64ObservableCounter
	delivered      metric.Int64ObservableCounter
	dropped        metric.Int64ObservableCounter
	bufferUsage    metric.Int64ObservableUpDownCounter
	bufferLimit    metric.Int64ObservableUpDownCounter
	connected      metric.Int64ObservableUpDownCounter
	reconnects     metric.Int64ObservableCounter
	streamEventAge metric.Float64ObservableGauge
	flushFailures  metric.Int64ObservableCounter
	flushAge       metric.Float64ObservableGauge
}

func (in *instruments) init(m metric.Meter) error {
	in.meter = m
	var err, e error
	add := func(e error) { err = errors.Join(err, e) }

	in.transitions, e = m.Int64Counter("tripswitch.breaker.transitions",
		metric.WithUnit("{transition}"),
		metric.WithDescription("Breaker state changes received by the client."))
	add(e)
	in.rejections, e = m.Int64Counter("tripswitch.breaker.rejections",
		metric.WithUnit("{call}"),
		metric.WithDescription("Calls rejected by a breaker."))
	add(e)
	in.localMoves, e = m.Int64Counter("tripswitch.breaker.local.transitions",
		metric.WithUnit("{transition}"),
		metric.WithDescription("Breakers coming under the local fallback policy, changing state under it, and leaving it."))
	add(e)
	in.localState, e = m.Int64ObservableUpDownCounter("tripswitch.breaker.local.state",
		metric.WithUnit("1"),
		metric.WithDescription("Local state of a breaker under the local fallback policy: 1 for the current state, 0 for the others."))
	add(e)

	in.state, e = m.Int64ObservableUpDownCounter("tripswitch.breaker.state",
		metric.WithUnit("1"),
		metric.WithDescription("Breaker state: 1 for the current state, 0 for the others."))
	add(e)
	in.allowRate, e = m.Float64ObservableGauge("tripswitch.breaker.allow_rate",
		metric.WithUnit("1"),
		metric.WithDescription("Share of calls a breaker lets through: 1 closed, 0 open, between in half-open."))
	add(e)
	in.breakers, e = m.Int64ObservableUpDownCounter("tripswitch.breaker.count",
		metric.WithUnit("{breaker}"),
		metric.WithDescription("Breakers in the client's state cache."))
	add(e)

	in.produced, e = m.Int64ObservableCounter("tripswitch.sample.produced",
		metric.WithUnit("{sample}"),
		metric.WithDescription("Samples created by calls and reports."))
	add(e)
	in.delivered, e = m.Int64ObservableCounter("tripswitch.sample.delivered",
		metric.WithUnit("{sample}"),
		metric.WithDescription("Samples accepted by the server."))
	add(e)
	in.dropped, e = m.Int64ObservableCounter("tripswitch.sample.dropped",
		metric.WithUnit("{sample}"),
		metric.WithDescription("Samples given up: buffer overflow, refused batches, after close."))
	add(e)
	in.bufferUsage, e = m.Int64ObservableUpDownCounter("tripswitch.buffer.usage",
		metric.WithUnit("{sample}"),
		metric.WithDescription("Samples waiting for delivery."))
	add(e)
	in.bufferLimit, e = m.Int64ObservableUpDownCounter("tripswitch.buffer.limit",
		metric.WithUnit("{sample}"),
		metric.WithDescription("The most samples the buffer holds."))
	add(e)

	in.connected, e = m.Int64ObservableUpDownCounter("tripswitch.stream.connected",
		metric.WithUnit("{connection}"),
		metric.WithDescription("1 while the state stream is connected, else 0."))
	add(e)
	in.reconnects, e = m.Int64ObservableCounter("tripswitch.stream.reconnects",
		metric.WithUnit("{reconnect}"),
		metric.WithDescription("State stream connections after the first."))
	add(e)
	in.streamEventAge, e = m.Float64ObservableGauge("tripswitch.stream.last_event.age",
		metric.WithUnit("s"),
		metric.WithDescription("Time since the last state event."))
	add(e)

	in.flushFailures, e = m.Int64ObservableCounter("tripswitch.flush.failures",
		metric.WithUnit("{failure}"),
		metric.WithDescription("Failed sample delivery attempts."))
	add(e)
	in.flushAge, e = m.Float64ObservableGauge("tripswitch.flush.last_success.age",
		metric.WithUnit("s"),
		metric.WithDescription("Time since the last delivered batch."))
	add(e)

	if err != nil {
		return errors.Join(errors.New("otelbridge: creating instruments"), err)
	}
	return nil
}

func (in *instruments) observables() []metric.Observable {
	return []metric.Observable{
		in.state, in.allowRate, in.breakers, in.localState,
		in.produced, in.delivered, in.dropped, in.bufferUsage, in.bufferLimit,
		in.connected, in.reconnects, in.streamEventAge,
		in.flushFailures, in.flushAge,
	}
}

// breakerAttrs are the precomputed attribute sets of one breaker.
type breakerAttrs struct {
	state [len(allStates)]metric.ObserveOption
	name  metric.ObserveOption
}

// collect is the callback of every observable instrument.
func (b *Bridge) collect(bnd *binding, o metric.Observer) error {
	if b.stopped.Load() {
		return nil
	}
	in := &b.inst
	st := bnd.client.Stats()
	p := bnd.projSet

	o.ObserveInt64(in.produced, clampInt64(st.Produced), p)
	o.ObserveInt64(in.delivered, clampInt64(st.Delivered), p)
	o.ObserveInt64(in.dropped, clampInt64(st.Dropped), p)
	o.ObserveInt64(in.bufferUsage, int64(st.Buffered), p)
	o.ObserveInt64(in.bufferLimit, int64(st.BufferCapacity), p)
	connected := int64(0)
	if st.StreamConnected {
		connected = 1
	}
	o.ObserveInt64(in.connected, connected, p)
	o.ObserveInt64(in.reconnects, clampInt64(st.StreamReconnects), p)
	o.ObserveInt64(in.flushFailures, clampInt64(st.FlushFailures), p)
	now := b.now()
	if !st.LastStreamEvent.IsZero() {
		o.ObserveFloat64(in.streamEventAge, max(now.Sub(st.LastStreamEvent).Seconds(), 0), p)
	}
	if !st.LastSuccessfulFlush.IsZero() {
		o.ObserveFloat64(in.flushAge, max(now.Sub(st.LastSuccessfulFlush).Seconds(), 0), p)
	}

	states := bnd.client.States()
	o.ObserveInt64(in.breakers, int64(len(states)), p)

	bnd.mu.Lock()
	defer bnd.mu.Unlock()
	for name, bs := range states {
		a := bnd.breakers[name]
		if a == nil {
			a = newBreakerAttrs(bnd.project, name)
			bnd.breakers[name] = a
		}
		for i, s := range allStates {
			v := int64(0)
			if bs.State == s {
				v = 1
			}
			o.ObserveInt64(in.state, v, a.state[i])
		}
		o.ObserveFloat64(in.allowRate, bs.AllowRate, a.name)
	}
	for name := range bnd.breakers {
		if _, ok := states[name]; !ok {
			delete(bnd.breakers, name)
		}
	}
	for name, ls := range bnd.client.LocalStates() {
		a := bnd.breakers[name]
		if a == nil {
			a = newBreakerAttrs(bnd.project, name) // not kept: rare
		}
		for i, s := range allStates {
			v := int64(0)
			if ls == s {
				v = 1
			}
			o.ObserveInt64(in.localState, v, a.state[i])
		}
	}
	return nil
}

func newBreakerAttrs(project attribute.KeyValue, name string) *breakerAttrs {
	n := breakerNameKey.String(name)
	a := &breakerAttrs{name: metric.WithAttributeSet(attribute.NewSet(project, n))}
	for i, s := range allStates {
		a.state[i] = metric.WithAttributeSet(attribute.NewSet(project, n, breakerStateKey.String(s.String())))
	}
	return a
}

func clampInt64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}
