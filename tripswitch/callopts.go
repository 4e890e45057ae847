package tripswitch

import (
	"maps"
	"math"
	"slices"
)

// A CallOption configures one Execute call or a prepared Call.
//
// Call options are plain values that work on a copy of the call's
// configuration. With the common options (breakers, router, metrics,
// tags, trace ID) written inline at the call site, the compiler keeps them
// on the caller's stack.
type CallOption interface {
	applyCall(callConfig) callConfig
}

type callConfig struct {
	breakers    []string
	single      string // the only breaker, when exactly one was named
	breakersSet bool
	breakerSel  func([]BreakerMeta) []string
	router      string
	routerSet   bool
	routerSel   func([]RouterMeta) string
	metrics     []metricSpec
	deferred    any // func(T, error) map[string]float64 for the call's T
	tags        map[string]string
	ignore      []error
	evaluator   func(error) bool
	traceID     string
	err         error
}

// Options holding a function are structs of two words rather than bare
// function types, so that the function is stored behind the interface
// (not in it) and taking it out does not make every option of the call
// escape.

// Latency is the metric value that reports the task's duration in
// milliseconds: WithMetric("latency", tripswitch.Latency).
var Latency = latencyMarker{}

type latencyMarker struct{}

type metricKind uint8

const (
	metricConst metricKind = iota
	metricLatency
	metricFunc
)

type metricSpec struct {
	name  string
	kind  metricKind
	value float64
	fn    func() float64
}

// WithBreakers gates the call on the named breakers: any open rejects it;
// otherwise the smallest allow rate among half-open ones throttles it.
// Without breakers (or a selector) the call is not gated.
func WithBreakers(names ...string) CallOption {
	if len(names) == 1 {
		return breakerOption{names[0]} // the common case, without a slice
	}
	return breakersOption{slices.Clone(names)}
}

type breakerOption struct{ name string }

func (o breakerOption) applyCall(c callConfig) callConfig {
	if !c.breakersSet {
		c.single, c.breakersSet = o.name, true
		return c
	}
	return breakersOption{[]string{o.name}}.applyCall(c)
}

type breakersOption struct{ names []string }

func (o breakersOption) applyCall(c callConfig) callConfig {
	if c.single != "" {
		c.breakers = []string{c.single}
		c.single = ""
	}
	c.breakers = append(slices.Clip(c.breakers), o.names...)
	c.breakersSet = true
	return c
}

// WithBreakerSelector gates the call on the breakers that fn picks from the
// metadata cache (by name). An empty choice means no gating. Cannot be
// combined with WithBreakers.
func WithBreakerSelector(fn func([]BreakerMeta) []string) CallOption {
	return breakerSelectorOption{fn: fn}
}

type breakerSelectorOption struct {
	fn func([]BreakerMeta) []string
	_  bool
}

func (o breakerSelectorOption) applyCall(c callConfig) callConfig {
	c.breakerSel = o.fn
	return c
}

// WithRouter sends the call's samples to the router with this ID. Without a
// router (or a router selector) the call emits no samples.
func WithRouter(routerID string) CallOption { return routerOption{routerID} }

type routerOption struct{ id string }

func (o routerOption) applyCall(c callConfig) callConfig {
	c.router, c.routerSet = o.id, true
	return c
}

// WithRouterSelector sends the call's samples to the router that fn picks
// from the metadata cache (by ID). An empty choice means no samples. Cannot
// be combined with WithRouter.
func WithRouterSelector(fn func([]RouterMeta) string) CallOption {
	return routerSelectorOption{fn: fn}
}

type routerSelectorOption struct {
	fn func([]RouterMeta) string
	_  bool
}

func (o routerSelectorOption) applyCall(c callConfig) callConfig {
	c.routerSel = o.fn
	return c
}

// WithMetric reports one metric for the call. value is Latency (the task's
// duration in milliseconds), a func() float64 called after the task, or
// any Go integer or floating-point number. Metrics need a router.
func WithMetric(name string, value any) CallOption {
	if _, ok := value.(latencyMarker); ok {
		// Small enough to inline, so that the option stays on the caller's
		// stack; an empty name is reported by the call.
		return metricOption{metricSpec{name: name, kind: metricLatency}}
	}
	return withMetric(name, value)
}

func withMetric(name string, value any) CallOption {
	m, err := newMetricSpec(name, value)
	if err != nil {
		return errorOption{err}
	}
	return metricOption{m}
}

type metricOption struct{ m metricSpec }

func (o metricOption) applyCall(c callConfig) callConfig {
	c.metrics = append(slices.Clip(c.metrics), o.m)
	return c
}

type errorOption struct{ err error }

func (o errorOption) applyCall(c callConfig) callConfig {
	if c.err == nil {
		c.err = o.err
	}
	return c
}

// WithMetrics reports several metrics; see WithMetric for the values.
func WithMetrics(metrics map[string]any) CallOption {
	if len(metrics) == 1 {
		// The common case: no sorting, no slice, and an option interned
		// rather than allocated.
		name, value, ok := knownMetric(metrics)
		if !ok {
			for name, value = range metrics { // the only entry
			}
		}
		m, err := newMetricSpec(name, value)
		if err != nil {
			return errorOption{err}
		}
		if o := internMetric(&m); o != nil {
			return o
		}
		return metricOption{m}
	}
	return withMetrics(metrics)
}

func withMetrics(metrics map[string]any) CallOption {
	names := slices.Sorted(maps.Keys(metrics))
	specs := make([]metricSpec, 0, len(names))
	for _, name := range names {
		m, err := newMetricSpec(name, metrics[name])
		if err != nil {
			return errorOption{err}
		}
		specs = append(specs, m)
	}
	return metricsOption{specs}
}

type metricsOption struct{ ms []metricSpec }

func (o metricsOption) applyCall(c callConfig) callConfig {
	c.metrics = append(slices.Clip(c.metrics), o.ms...)
	return c
}

func newMetricSpec(name string, value any) (metricSpec, error) {
	if name == "" {
		return metricSpec{}, optionError("WithMetric", "empty metric name")
	}
	m := metricSpec{name: name}
	switch v := value.(type) {
	case latencyMarker:
		m.kind = metricLatency
		return m, nil
	case *latencyMarker:
		m.kind = metricLatency
		return m, nil
	case func() float64:
		if v == nil {
			return m, optionError("WithMetric", "metric %q: nil function", name)
		}
		m.kind, m.fn = metricFunc, v
		return m, nil
	case float64:
		m.value = v
	case float32:
		m.value = float64(v)
	case int:
		m.value = float64(v)
	case int8:
		m.value = float64(v)
	case int16:
		m.value = float64(v)
	case int32:
		m.value = float64(v)
	case int64:
		m.value = float64(v)
	case uint:
		m.value = float64(v)
	case uint8:
		m.value = float64(v)
	case uint16:
		m.value = float64(v)
	case uint32:
		m.value = float64(v)
	case uint64:
		m.value = float64(v)
	case uintptr:
		m.value = float64(v)
	default:
		return m, optionError("WithMetric", "metric %q: unsupported value type %T (want tripswitch.Latency, func() float64 or a number)", name, value)
	}
	if math.IsNaN(m.value) || math.IsInf(m.value, 0) {
		return m, optionError("WithMetric", "metric %q: value %v is not finite", name, m.value)
	}
	return m, nil
}

// WithDeferredMetrics reports metrics computed from the task's result and
// error, after it returns (for example token counts from a response). T
// must be the call's result type.
func WithDeferredMetrics[T any](fn func(T, error) map[string]float64) CallOption {
	return deferredOption{fn}
}

type deferredOption struct{ fn any }

func (o deferredOption) applyCall(c callConfig) callConfig {
	c.deferred = o.fn
	return c
}

// WithTags adds tags to the call's samples; they win over the client's
// global tags. The map is copied.
func WithTags(tags map[string]string) CallOption {
	return tagsOption{maps.Clone(tags)}
}

type tagsOption struct{ tags map[string]string }

func (o tagsOption) applyCall(c callConfig) callConfig {
	m := make(map[string]string, len(c.tags)+len(o.tags))
	maps.Copy(m, c.tags)
	maps.Copy(m, o.tags)
	c.tags = m
	return c
}

// WithTag adds one tag to the call's samples.
func WithTag(key, value string) CallOption {
	return tagOption{key, value}
}

type tagOption struct{ key, value string }

func (o tagOption) applyCall(c callConfig) callConfig {
	m := make(map[string]string, len(c.tags)+1)
	maps.Copy(m, c.tags)
	m[o.key] = o.value
	c.tags = m
	return c
}

// WithIgnoreErrors makes task errors matching any of errs (errors.Is)
// count as successes.
func WithIgnoreErrors(errs ...error) CallOption {
	return ignoreOption{slices.Clone(errs)}
}

type ignoreOption struct{ errs []error }

func (o ignoreOption) applyCall(c callConfig) callConfig {
	c.ignore = append(slices.Clip(c.ignore), o.errs...)
	return c
}

// WithErrorEvaluator decides whether a task error is a failure (true) or
// not (false). It is called only for non-nil errors and takes precedence
// over WithIgnoreErrors.
func WithErrorEvaluator(fn func(error) bool) CallOption {
	return evaluatorOption{fn: fn}
}

type evaluatorOption struct {
	fn func(error) bool
	_  bool
}

func (o evaluatorOption) applyCall(c callConfig) callConfig {
	c.evaluator = o.fn
	return c
}

// WithTraceID sets the trace ID of the call's samples, overriding the
// client's extractor.
func WithTraceID(traceID string) CallOption {
	return traceIDOption{traceID}
}

type traceIDOption struct{ id string }

func (o traceIDOption) applyCall(c callConfig) callConfig {
	c.traceID = o.id
	return c
}

// breakerNames returns the named breakers (allocating for a single one).
func (c *callConfig) breakerNames() []string {
	if c.single != "" {
		return []string{c.single}
	}
	return c.breakers
}

// gateOnly reports a call that gates but emits nothing and needs no
// metadata.
func (c *callConfig) gateOnly() bool {
	return !c.routerSet && c.routerSel == nil && c.breakerSel == nil
}

func (c *callConfig) validate() error {
	if c.err != nil {
		return c.err
	}
	if c.breakersSet {
		if c.breakerSel != nil {
			return conflictError("WithBreakers", "WithBreakerSelector")
		}
		if c.single == "" && (len(c.breakers) == 0 || slices.Contains(c.breakers, "")) {
			return optionError("WithBreakers", "breaker names must not be empty")
		}
	}
	if c.routerSet {
		if c.routerSel != nil {
			return conflictError("WithRouter", "WithRouterSelector")
		}
		if c.router == "" {
			return optionError("WithRouter", "empty router ID")
		}
	}
	for _, m := range c.metrics {
		if m.name == "" {
			return optionError("WithMetric", "empty metric name")
		}
	}
	for i := 1; i < len(c.metrics); i++ {
		for _, o := range c.metrics[:i] {
			if o.name == c.metrics[i].name {
				return optionError("WithMetric", "metric %q given twice", o.name)
			}
		}
	}
	return nil
}

func deferredTypeError[T any](d any) error {
	var zero T
	return optionError("WithDeferredMetrics", "function type %T does not match the call's result type %T", d, zero)
}

// collectCallOptions applies opts in order. The type switch calls each
// known option statically, so the compiler sees every flow and can keep the
// options and the config on the caller's stack.
func collectCallOptions(opts []CallOption) (c callConfig) {
	for _, o := range opts {
		switch o := o.(type) {
		// The most common options are applied in place rather than by
		// copying the config through applyCall.
		case breakerOption:
			if c.breakersSet {
				c = o.applyCall(c)
			} else {
				c.single, c.breakersSet = o.name, true
			}
		case routerOption:
			c.router, c.routerSet = o.id, true
		case metricOption:
			c.metrics = append(slices.Clip(c.metrics), o.m)
		case traceIDOption:
			c.traceID = o.id
		case tagOption:
			c = o.applyCall(c)
		case breakersOption:
			c = o.applyCall(c)
		case breakerSelectorOption:
			c = o.applyCall(c)
		case routerSelectorOption:
			c = o.applyCall(c)
		case metricsOption:
			c = o.applyCall(c)
		case deferredOption:
			c = o.applyCall(c)
		case tagsOption:
			c = o.applyCall(c)
		case ignoreOption:
			c = o.applyCall(c)
		case evaluatorOption:
			c = o.applyCall(c)
		case errorOption:
			c = o.applyCall(c)
		case nil:
			c = errorOption{optionError("CallOption", "nil option")}.applyCall(c)
		}
	}
	return c
}
