package tripswitch

import (
	"maps"
	"math"
	"slices"
)

// A CallOption configures one Execute call or a prepared Call.
//
// Call options are plain values: building them and applying them to a call
// allocates nothing for the common options, so they may be written inline
// at every call site.
type CallOption interface {
	applyCall(*callConfig)
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

func (c *callConfig) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

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
		// One name, the common case, travels without its slice: the
		// option then costs one small allocation at most.
		return breakerOption(names[0])
	}
	return breakersOption(slices.Clone(names))
}

type breakerOption string

func (o breakerOption) applyCall(c *callConfig) {
	if !c.breakersSet {
		c.single, c.breakersSet = string(o), true
		return
	}
	breakersOption{string(o)}.applyCall(c)
}

type breakersOption []string

func (o breakersOption) applyCall(c *callConfig) {
	if c.single != "" {
		c.breakers = []string{c.single}
		c.single = ""
	}
	if c.breakersSet {
		c.breakers = append(slices.Clip(c.breakers), o...)
	} else {
		c.breakers = o
	}
	c.breakersSet = true
}

// WithBreakerSelector gates the call on the breakers that fn picks from the
// metadata cache (by name). An empty choice means no gating. Cannot be
// combined with WithBreakers.
func WithBreakerSelector(fn func([]BreakerMeta) []string) CallOption {
	return breakerSelectorOption(fn)
}

type breakerSelectorOption func([]BreakerMeta) []string

func (o breakerSelectorOption) applyCall(c *callConfig) { c.breakerSel = o }

// WithRouter sends the call's samples to the router with this ID. Without a
// router (or a router selector) the call emits no samples.
func WithRouter(routerID string) CallOption { return routerOption(routerID) }

type routerOption string

func (o routerOption) applyCall(c *callConfig) {
	c.router, c.routerSet = string(o), true
}

// WithRouterSelector sends the call's samples to the router that fn picks
// from the metadata cache (by ID). An empty choice means no samples. Cannot
// be combined with WithRouter.
func WithRouterSelector(fn func([]RouterMeta) string) CallOption {
	return routerSelectorOption(fn)
}

type routerSelectorOption func([]RouterMeta) string

func (o routerSelectorOption) applyCall(c *callConfig) { c.routerSel = o }

// WithMetric reports one metric for the call. value is Latency (the task's
// duration in milliseconds), a func() float64 called after the task, or
// any Go integer or floating-point number. Metrics need a router.
func WithMetric(name string, value any) CallOption {
	m, err := newMetricSpec(name, value)
	if err != nil {
		return errorOption{err}
	}
	return metricOption(m)
}

type metricOption metricSpec

func (o metricOption) applyCall(c *callConfig) {
	c.metrics = append(c.metrics, metricSpec(o))
}

type errorOption struct{ err error }

func (o errorOption) applyCall(c *callConfig) { c.fail(o.err) }

// WithMetrics reports several metrics; see WithMetric for the values.
func WithMetrics(metrics map[string]any) CallOption {
	names := slices.Sorted(maps.Keys(metrics))
	specs := make([]metricSpec, 0, len(names))
	var err error
	for _, name := range names {
		m, e := newMetricSpec(name, metrics[name])
		if e != nil && err == nil {
			err = e
		}
		specs = append(specs, m)
	}
	if err != nil {
		return errorOption{err}
	}
	return metricsOption(specs)
}

type metricsOption []metricSpec

func (o metricsOption) applyCall(c *callConfig) {
	c.metrics = append(c.metrics, o...)
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

func (o deferredOption) applyCall(c *callConfig) { c.deferred = o.fn }

// WithTags adds tags to the call's samples; they win over the client's
// global tags. The map is copied.
func WithTags(tags map[string]string) CallOption {
	return tagsOption(maps.Clone(tags))
}

type tagsOption map[string]string

func (o tagsOption) applyCall(c *callConfig) {
	for k, v := range o {
		c.addTag(k, v)
	}
}

// WithTag adds one tag to the call's samples.
func WithTag(key, value string) CallOption {
	return tagOption{key, value}
}

type tagOption struct{ key, value string }

func (o tagOption) applyCall(c *callConfig) { c.addTag(o.key, o.value) }

func (c *callConfig) addTag(k, v string) {
	if c.tags == nil {
		c.tags = make(map[string]string, 2)
	}
	c.tags[k] = v
}

// WithIgnoreErrors makes task errors matching any of errs (errors.Is)
// count as successes.
func WithIgnoreErrors(errs ...error) CallOption {
	return ignoreOption(errs)
}

type ignoreOption []error

func (o ignoreOption) applyCall(c *callConfig) {
	c.ignore = append(slices.Clip(c.ignore), o...)
}

// WithErrorEvaluator decides whether a task error is a failure (true) or
// not (false). It is called only for non-nil errors and takes precedence
// over WithIgnoreErrors.
func WithErrorEvaluator(fn func(error) bool) CallOption {
	return evaluatorOption(fn)
}

type evaluatorOption func(error) bool

func (o evaluatorOption) applyCall(c *callConfig) { c.evaluator = o }

// WithTraceID sets the trace ID of the call's samples, overriding the
// client's extractor.
func WithTraceID(traceID string) CallOption {
	return traceIDOption(traceID)
}

type traceIDOption string

func (o traceIDOption) applyCall(c *callConfig) { c.traceID = string(o) }

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
	if c.breakersSet && c.breakerSel != nil {
		return conflictError("WithBreakers", "WithBreakerSelector")
	}
	if c.routerSet && c.routerSel != nil {
		return conflictError("WithRouter", "WithRouterSelector")
	}
	if c.breakersSet && c.single == "" && len(c.breakers) == 0 {
		return optionError("WithBreakers", "no breaker names")
	}
	for _, b := range c.breakerNames() {
		if b == "" {
			return optionError("WithBreakers", "empty breaker name")
		}
	}
	if c.routerSet && c.router == "" {
		return optionError("WithRouter", "empty router ID")
	}
	for i, m := range c.metrics {
		for _, o := range c.metrics[:i] {
			if o.name == m.name {
				return optionError("WithMetric", "metric %q given twice", m.name)
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
// known option statically, so the small apply methods are inlined and the
// compiler can keep options and the config on the caller's stack.
func collectCallOptions(opts []CallOption) (c callConfig) {
	for _, o := range opts {
		switch o := o.(type) {
		case breakerOption:
			o.applyCall(&c)
		case breakersOption:
			o.applyCall(&c)
		case routerOption:
			o.applyCall(&c)
		case metricOption:
			o.applyCall(&c)
		case tagOption:
			o.applyCall(&c)
		case traceIDOption:
			o.applyCall(&c)
		case breakerSelectorOption:
			o.applyCall(&c)
		case routerSelectorOption:
			o.applyCall(&c)
		case metricsOption:
			o.applyCall(&c)
		case deferredOption:
			o.applyCall(&c)
		case tagsOption:
			o.applyCall(&c)
		case ignoreOption:
			o.applyCall(&c)
		case evaluatorOption:
			o.applyCall(&c)
		case errorOption:
			o.applyCall(&c)
		case nil:
			c.fail(optionError("CallOption", "nil option"))
		}
	}
	return c
}
