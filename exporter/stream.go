package exporter

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Bounds of the exporter's state. The SDK's default cardinality limit is
// 2,000 streams per instrument, well below maxStreamsPerInstrument.
const (
	maxInstruments          = 4096 // (scope, instrument) rule decisions kept
	maxStreamsPerInstrument = 8192 // attribute sets kept per instrument
	sweepEvery              = 16   // exports between sweeps of idle streams
	staleAfter              = 16   // exports a stream may go unreported before it is forgotten
)

// sink receives the samples of one rule and attribute set.
// *tripswitch.Reporter implements it.
type sink interface {
	Report(ctx context.Context, t time.Time, value float64, ok bool, traceID string) error
}

// bulkSink reports many values of one point under one lock;
// *tripswitch.Reporter implements it.
type bulkSink interface {
	ReportValues(ctx context.Context, t time.Time, values []float64, ok bool, traceID string) error
}

func allFinite(values []float64) bool {
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

type instrumentKey struct{ scope, version, name, unit string }

// instrument is the rule decision for one (scope, instrument name) and the
// streams seen for it.
type instrument struct {
	name    string
	unit    string
	rules   []*rule
	streams map[attribute.Distinct]*stream
	cached  bool
	warned  map[string]bool // conditions already logged
}

// target is one rule of a stream: where its samples go, their ok, and
// the factor converting measured values to the rule's unit.
type target struct {
	r     *rule
	sink  sink
	ok    bool
	scale float64
	tags  map[string]string // kept to re-make the sink on Attach
}

// measure converts a measured value (not a count) to the rule's unit.
func (tg *target) measure(v float64) float64 { return v * tg.scale }

// stream is the state kept for one attribute set of an instrument.
type stream struct {
	targets  []target
	lastSeen uint64
	seenAt   time.Time // the export time when lastSeen was set, with WithStaleAfter
	temp     bool      // not kept between exports (a limit was reached)
	keep     bool      // holds a running total: never forgotten for idleness

	// Cumulative input: the previous point.
	seen      bool
	start     time.Time
	prev      float64 // sum value, or summary sum
	prevCount uint64  // summary or histogram count
	hist      histState

	// Rule.Total under delta temporality.
	total float64

	trace traceCache
}

// instrument returns the rule decision for an instrument, nil when no
// rule selects it.
func (e *Exporter) instrument(scope, version, name, unit string) *instrument {
	k := instrumentKey{scope, version, name, unit}
	if in, ok := e.instruments[k]; ok {
		return in
	}
	var rs []*rule
	for _, r := range e.rules {
		if r.matchInstrument(scope, name) {
			rs = append(rs, r)
		}
	}
	var in *instrument
	if len(rs) > 0 {
		in = &instrument{name: name, unit: unit, rules: rs, streams: make(map[attribute.Distinct]*stream)}
	}
	if len(e.instruments) < maxInstruments {
		e.instruments[k] = in
		if in != nil {
			in.cached = true
		}
	} else if in != nil && !e.limitWarned {
		e.limitWarned = true
		e.logger.Warn("tripswitch exporter: instrument limit reached; cumulative data of this instrument is not forwarded",
			"instrument", name, "scope", scope, "limit", maxInstruments)
	}
	return in
}

// stream returns the stream of attrs, creating it on first sight.
func (e *Exporter) stream(in *instrument, attrs attribute.Set) *stream {
	// Like the SDK's own aggregators, trust the 64-bit hash of the set.
	d := attrs.Equivalent()
	if st, ok := in.streams[d]; ok {
		st.lastSeen, st.seenAt = e.seq, e.at
		return st
	}
	st := e.newStream(in, attrs)
	switch {
	case !in.cached:
		st.temp = true
	case len(in.streams) >= maxStreamsPerInstrument:
		st.temp = true
		e.warn(in, "stream limit", "tripswitch exporter: stream limit reached; further attribute sets cost allocations and their cumulative data is not forwarded",
			"limit", maxStreamsPerInstrument)
	default:
		in.streams[d] = st
	}
	return st
}

func (e *Exporter) newStream(in *instrument, attrs attribute.Set) *stream {
	st := &stream{lastSeen: e.seq, seenAt: e.at}
	for _, r := range in.rules {
		if !r.matchAttrs(&attrs) {
			continue
		}
		tags := r.tagsFor(&attrs)
		s, err := e.sinkFor(r.Router, r.metricFor(in.name), tags)
		if err != nil {
			e.warn(in, "sink", "tripswitch exporter: rule skipped", "rule", r.index, "error", err)
			continue
		}
		st.targets = append(st.targets, target{r: r, sink: s, ok: e.evalOK(r, attrs), scale: r.scaleFor(in.unit), tags: tags})
		st.keep = st.keep || r.Total
	}
	return st
}

// evalOK runs the rule's OK evaluator; a panic counts as ok and is logged.
func (e *Exporter) evalOK(r *rule, attrs attribute.Set) (ok bool) {
	if r.OK == nil {
		return true
	}
	defer func() {
		if p := recover(); p != nil {
			ok = true
			e.logger.Error("tripswitch exporter: recovered panic in Rule.OK", "rule", r.index, "panic", fmt.Sprint(p))
		}
	}()
	return r.OK(attrs)
}

// stale reports whether st has gone unreported long enough to be
// forgotten: staleAfter exports, or the time set by the internal
// stale-after option.
func (e *Exporter) stale(st *stream) bool {
	if e.cfg.staleFor > 0 {
		return e.at.Sub(st.seenAt) >= e.cfg.staleFor
	}
	return e.seq-st.lastSeen >= staleAfter
}

// sweep forgets streams not reported in the last staleAfter exports,
// except those that keep a running total.
func (e *Exporter) sweep() {
	for _, in := range e.instruments {
		if in == nil {
			continue
		}
		for d, st := range in.streams {
			if !st.keep && e.stale(st) {
				delete(in.streams, d)
			}
		}
	}
}

// warn logs a condition once per instrument.
func (e *Exporter) warn(in *instrument, key, msg string, args ...any) {
	if in.warned[key] {
		return
	}
	if in.warned == nil {
		in.warned = make(map[string]bool)
	}
	in.warned[key] = true
	e.logger.Warn(msg, append([]any{"instrument", in.name}, args...)...)
}

// report sends one sample to a target, skipping values that are not finite
// numbers.
func (e *Exporter) report(ctx context.Context, in *instrument, tg *target, t time.Time, v float64, traceID string) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		e.warn(in, "non-finite", "tripswitch exporter: skipped a value that is not a finite number")
		return nil
	}
	return tg.sink.Report(ctx, t, v, tg.ok, traceID)
}

// traceCache keeps the hex form of the last trace ID it converted.
type traceCache struct {
	raw [16]byte
	s   string
}

// get returns the hex form of a 16-byte trace ID, "" for an invalid one.
func (c *traceCache) get(id []byte) string {
	if !validTraceID(id) {
		return ""
	}
	if c.s != "" && [16]byte(id) == c.raw {
		return c.s
	}
	c.raw = [16]byte(id)
	c.s = hex.EncodeToString(id)
	return c.s
}

func validTraceID(id []byte) bool {
	if len(id) != 16 {
		return false
	}
	for _, b := range id {
		if b != 0 {
			return true
		}
	}
	return false
}

func traceString(id []byte) string {
	if !validTraceID(id) {
		return ""
	}
	return hex.EncodeToString(id)
}
