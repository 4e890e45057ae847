package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/internal/sinks"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// maxTagSets bounds the distinct tag combinations per rule that get a
// prepared reporter; samples with further combinations take the slower
// Client.Report path.
const maxTagSets = 1024

// SpanProcessor is an sdktrace.SpanProcessor that turns ended spans
// selected by its rules into samples of a tripswitch.Client.
//
// OnEnd never blocks and does no I/O: samples join the client's buffer and
// are delivered by the client. A span no rule selects allocates nothing; a
// selected span allocates only its trace ID's text, shared by all rules it
// matches. A rule with TagKeys prepares the first 1024 distinct tag
// combinations it sees; samples with further combinations cost a few
// allocations each.
//
// A sample a rule selects but cannot report (the client refuses it, or
// the rule's OK function panicked) is counted in Stats, and the first such
// refusal in any minute goes to the OpenTelemetry error handler
// (otel.Handle), so that a clock running ahead on a host, say, does not
// cost its spans' samples unnoticed.
//
// ForceFlush and Shutdown flush the client's buffer; neither closes the
// client, which stays the caller's to close. After Shutdown, OnEnd does
// nothing. A SpanProcessor is safe for concurrent use.
type SpanProcessor struct {
	client   *tripswitch.Client // nil with sinks
	sinks    sinks.Factory
	exact    nameIndex
	prefixed []*compiledRule
	anyName  []*compiledRule
	anyNamed bool // some rule selects by name
	stopped  atomic.Bool

	refused     atomic.Uint64
	lastRefusal atomic.Pointer[error]
	handledAt   atomic.Int64 // Unix nanoseconds of the last refusal handed to otel.Handle
}

// ProcessorStats counts what a SpanProcessor could not report.
type ProcessorStats struct {
	// Refused is the number of samples rules selected but could not
	// report: the client refused them (ErrInvalidSample: a span stamped
	// more than 5 minutes ahead of the client's clock or more than 24
	// hours behind it, a trace ID or tag beyond the ingest limits), or
	// the rule's OK function panicked. Samples produced after the client
	// was closed are counted by the client's own Stats, not here.
	Refused uint64
	// LastRefusal says why the latest refused sample was refused; nil
	// before the first.
	LastRefusal error
}

// Stats returns the processor's counters. Safe for concurrent use.
func (p *SpanProcessor) Stats() ProcessorStats {
	st := ProcessorStats{Refused: p.refused.Load()}
	if err := p.lastRefusal.Load(); err != nil {
		st.LastRefusal = *err
	}
	return st
}

// refusalReportInterval is how often at most a refusal goes to
// otel.Handle.
const refusalReportInterval = time.Minute

// check counts a sample of r as refused when reporting it failed.
func (p *SpanProcessor) check(r *compiledRule, err error) {
	if err != nil {
		p.refuse(r, err)
	}
}

// refuse counts a sample of r that could not be reported because of err.
// It runs only when something is wrong, so it may allocate.
func (p *SpanProcessor) refuse(r *compiledRule, err error) {
	if errors.Is(err, tripswitch.ErrClosed) {
		return // ErrClosed: the client counted the sample as dropped
	}
	n := p.refused.Add(1)
	err = fmt.Errorf("otelbridge: span sample for router %q, metric %q not reported: %w", r.Router, r.Metric, err)
	p.lastRefusal.Store(&err)
	now := time.Now().UnixNano()
	last := p.handledAt.Load()
	if last != 0 && now-last < int64(refusalReportInterval) {
		return
	}
	if !p.handledAt.CompareAndSwap(last, now) {
		return // another refusal is being handed over
	}
	otel.Handle(fmt.Errorf("%w (%d span samples refused so far; see SpanProcessor.Stats)", err, n))
}

// linearNames is the most distinct exact names looked up by a linear scan,
// which beats hashing the span name for a few names.
const linearNames = 8

// nameIndex finds the rules selecting an exact span name.
type nameIndex struct {
	names  []string                   // distinct names, in rule order
	rules  [][]*compiledRule          // rules[i] select names[i]
	byName map[string][]*compiledRule // more than linearNames names
}

func (ix *nameIndex) add(name string, r *compiledRule) {
	for i, n := range ix.names {
		if n == name {
			ix.rules[i] = append(ix.rules[i], r)
			return
		}
	}
	ix.names = append(ix.names, name)
	ix.rules = append(ix.rules, []*compiledRule{r})
}

func (ix *nameIndex) seal() {
	if len(ix.names) <= linearNames {
		return
	}
	ix.byName = make(map[string][]*compiledRule, len(ix.names))
	for i, n := range ix.names {
		ix.byName[n] = ix.rules[i]
	}
	ix.names, ix.rules = nil, nil
}

func (ix *nameIndex) empty() bool { return ix.names == nil && ix.byName == nil }

func (ix *nameIndex) lookup(name string) []*compiledRule {
	if ix.byName != nil {
		return ix.byName[name]
	}
	for i, n := range ix.names {
		if n == name {
			return ix.rules[i]
		}
	}
	return nil
}

var _ sdktrace.SpanProcessor = (*SpanProcessor)(nil)

// compiledRule is a validated Rule ready for matching.
type compiledRule struct {
	Rule
	reporter sinks.Reporter // rules without TagKeys

	tagSets reporterCache // rules with TagKeys
}

// tagKey holds the values of a rule's TagKeys in one span (zero Value when
// absent).
type tagKey [MaxTagKeys]attribute.Value

// NewSpanProcessor returns a SpanProcessor feeding client from spans
// selected by rules. It returns a *RuleError (matching ErrInvalidRule)
// naming the first invalid rule and field, an error matching
// ErrInvalidRule when there is no rule, and one matching ErrInvalidOption
// when client is nil.
func NewSpanProcessor(client *tripswitch.Client, rules ...Rule) (*SpanProcessor, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: NewSpanProcessor: nil client", ErrInvalidOption)
	}
	return newSpanProcessor(&SpanProcessor{client: client, sinks: clientSinks(client)}, rules)
}

func init() {
	sinks.NewSpanProcessor = func(f sinks.Factory, rules any) (any, error) {
		rs, ok := rules.([]Rule)
		if !ok || f == nil {
			return nil, fmt.Errorf("otelbridge: span processor with sinks: got %T", rules)
		}
		return newSpanProcessor(&SpanProcessor{sinks: f}, rs)
	}
}

// clientSinks returns the client's reporters as a sink factory.
func clientSinks(c *tripswitch.Client) sinks.Factory {
	return func(router, metric string, tags map[string]string) (sinks.Reporter, error) {
		return c.NewReporter(router, metric, tags)
	}
}

// sinkField names the Rule field a refusal of the sink factory is about:
// tripswitch refuses a router ID or a metric name that is too long.
func sinkField(err error) string {
	if strings.Contains(err.Error(), ": metric ") {
		return "Metric"
	}
	return "Router"
}

func newSpanProcessor(p *SpanProcessor, rules []Rule) (*SpanProcessor, error) {
	if len(rules) == 0 {
		return nil, fmt.Errorf("%w: NewSpanProcessor needs at least one rule", ErrInvalidRule)
	}
	for i, r := range rules {
		if err := r.validate(i); err != nil {
			return nil, err
		}
		cr := &compiledRule{Rule: r}
		if len(r.TagKeys) == 0 {
			var err error
			if cr.reporter, err = p.sinks(r.Router, r.Metric, nil); err != nil {
				return nil, ruleError(i, sinkField(err), "%v", err)
			}
		} else {
			cr.tagSets.init()
		}
		switch {
		case r.Name != "":
			p.exact.add(r.Name, cr)
		case r.NamePrefix != "":
			p.prefixed = append(p.prefixed, cr)
		default:
			p.anyName = append(p.anyName, cr)
		}
	}
	p.exact.seal()
	p.anyNamed = !p.exact.empty() || len(p.prefixed) > 0
	return p, nil
}

// OnStart does nothing.
func (p *SpanProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd reports one sample per rule that selects s.
func (p *SpanProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if p.stopped.Load() {
		return
	}
	var traceID string
	if p.anyNamed {
		name := s.Name()
		for _, r := range p.exact.lookup(name) {
			p.emit(r, s, &traceID)
		}
		for _, r := range p.prefixed {
			if strings.HasPrefix(name, r.NamePrefix) {
				p.emit(r, s, &traceID)
			}
		}
	}
	for _, r := range p.anyName {
		p.emit(r, s, &traceID)
	}
}

// emit reports s through r when r's remaining selectors match.
func (p *SpanProcessor) emit(r *compiledRule, s sdktrace.ReadOnlySpan, traceID *string) {
	if r.Kind != trace.SpanKindUnspecified && s.SpanKind() != r.Kind {
		return
	}
	if r.Scope != "" && s.InstrumentationScope().Name != r.Scope {
		return
	}
	if len(r.Attributes) > 0 && !hasAttributes(s.Attributes(), r.Attributes) {
		return
	}
	ok, good := r.ok(s)
	if !good {
		p.refuse(r, errOKPanicked)
		return
	}
	start := s.StartTime()
	ms := float64(s.EndTime().Sub(start)) / float64(time.Millisecond)
	if *traceID == "" {
		if sc := s.SpanContext(); sc.HasTraceID() {
			*traceID = traceIDString(sc.TraceID())
		}
	}
	ctx := context.Background()
	if r.reporter != nil {
		p.check(r, r.reporter.Report(ctx, start, ms, ok, *traceID))
		return
	}
	key := r.tagKeyOf(s.Attributes())
	if rep := r.reporterFor(p.sinks, &key); rep != nil {
		p.check(r, rep.Report(ctx, start, ms, ok, *traceID))
		return
	}
	if p.client == nil {
		rep, err := p.sinks(r.Router, r.Metric, r.tags(&key))
		if err == nil {
			err = rep.Report(ctx, start, ms, ok, *traceID)
		}
		p.check(r, err)
		return
	}
	p.check(r, p.client.Report(ctx, tripswitch.Sample{
		RouterID: r.Router,
		Metric:   r.Metric,
		Value:    ms,
		OK:       ok,
		Time:     start,
		Tags:     r.tags(&key),
		TraceID:  *traceID,
	}))
}

var errOKPanicked = errors.New("the rule's OK function panicked")

// ok classifies s; good is false when the rule's OK function panicked.
func (r *compiledRule) ok(s sdktrace.ReadOnlySpan) (ok, good bool) {
	if r.OK == nil {
		return s.Status().Code != codes.Error, true
	}
	defer func() {
		if recover() != nil {
			ok, good = false, false
		}
	}()
	return r.OK(s), true
}

func hasAttributes(have, want []attribute.KeyValue) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Key == w.Key {
				found = h.Value == w.Value
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (r *compiledRule) tagKeyOf(attrs []attribute.KeyValue) tagKey {
	var k tagKey
	for _, kv := range attrs {
		for i, want := range r.TagKeys {
			if kv.Key == want {
				k[i] = kv.Value
				break
			}
		}
	}
	return k
}

func (r *compiledRule) tags(k *tagKey) map[string]string {
	m := make(map[string]string, len(r.TagKeys))
	for i, key := range r.TagKeys {
		if k[i].Type() != attribute.INVALID {
			m[string(key)] = k[i].Emit()
		}
	}
	return m
}

// reporterFor returns the reporter of the tag combination k, creating it
// while the rule holds fewer than maxTagSets; nil beyond.
func (r *compiledRule) reporterFor(f sinks.Factory, k *tagKey) sinks.Reporter {
	if rep := r.tagSets.load(k); rep != nil {
		return rep
	}
	return r.tagSets.add(k, func() sinks.Reporter {
		rep, err := f(r.Router, r.Metric, r.tags(k))
		if err != nil {
			return nil
		}
		return rep
	})
}

// reporterCache maps tag combinations to reporters. Lookups read an
// immutable map without locking; new entries go to a locked map that
// replaces the read map once it has missed as often as it has entries, so
// that filling the cache copies O(n) entries in total.
type reporterCache struct {
	read   atomic.Pointer[map[tagKey]sinks.Reporter]
	mu     sync.Mutex
	dirty  map[tagKey]sinks.Reporter // guarded by mu; a superset of read
	misses int                       // guarded by mu
}

func (rc *reporterCache) init() {
	rc.read.Store(&map[tagKey]sinks.Reporter{})
	rc.dirty = map[tagKey]sinks.Reporter{}
}

func (rc *reporterCache) load(k *tagKey) sinks.Reporter {
	return (*rc.read.Load())[*k]
}

// add returns the reporter of k, made by mk when absent and the cache has
// room; nil when it is full.
func (rc *reporterCache) add(k *tagKey, mk func() sinks.Reporter) sinks.Reporter {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rep := rc.dirty[*k]
	if rep == nil {
		if len(rc.dirty) >= maxTagSets {
			return nil
		}
		if rep = mk(); rep == nil {
			return nil
		}
		rc.dirty[*k] = rep
	}
	if rc.misses++; rc.misses >= len(rc.dirty) {
		m := maps.Clone(rc.dirty)
		rc.read.Store(&m)
		rc.misses = 0
	}
	return rep
}

// ForceFlush delivers the client's buffered samples; see Client.Flush.
func (p *SpanProcessor) ForceFlush(ctx context.Context) error {
	if p.stopped.Load() {
		return nil
	}
	return p.flush(ctx)
}

// Shutdown stops the processor and delivers the client's buffered samples.
// It does not close the client. Later calls return nil.
func (p *SpanProcessor) Shutdown(ctx context.Context) error {
	if p.stopped.Swap(true) {
		return nil
	}
	return p.flush(ctx)
}

func (p *SpanProcessor) flush(ctx context.Context) error {
	if p.client == nil {
		return nil
	}
	err := p.client.Flush(ctx)
	if errors.Is(err, tripswitch.ErrClosed) {
		return nil // Close delivered what it could
	}
	return err
}
