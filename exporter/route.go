package exporter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// A Route selects instruments and says where and how their data points
// become samples. An instrument selected by several routes feeds each of
// them.
type Route struct {
	// Instrument selects the instrument with exactly this name. Set it or
	// InstrumentPrefix, not both.
	Instrument string
	// InstrumentPrefix selects every instrument whose name starts with it.
	InstrumentPrefix string
	// Scope, when set, restricts the route to instruments of the
	// instrumentation scope with this name (for example
	// "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp").
	Scope string
	// Attributes, when set, restricts the route to data points that carry
	// every one of these attributes with an equal value.
	Attributes []attribute.KeyValue

	// Router is the ID of the Tripswitch router the samples go to.
	// Required.
	Router string
	// Metric is the samples' metric name. Default: the instrument's name.
	Metric string
	// Unit is the unit of the samples of a duration instrument (one whose
	// unit is "s", "ms", "us", "ns", "min" or "h"): UnitMilliseconds
	// ("ms", the default, the unit of tripswitch.Latency and of
	// otelbridge's span samples), UnitSeconds, UnitMicroseconds or
	// UnitNanoseconds. Values, bucket bounds, sums and extremes are
	// converted; counts are not. UnitAsRecorded forwards every value in
	// the instrument's own unit. Instruments of other units are never
	// converted.
	Unit string

	// Reduce says how a histogram or summary data point becomes samples.
	// Default ReduceDistribution. Sums and gauges ignore it.
	Reduce Reduce
	// Percentile is the percentile (0 < p ≤ 100) that ReducePercentile
	// estimates. Set it only with ReducePercentile.
	Percentile float64
	// Total makes a sum report its running total (for an UpDownCounter,
	// its current level) instead of the interval's increase. Other data
	// types ignore it.
	Total bool

	// OK decides the ok of a data point's samples from its attributes.
	// Default: every sample is ok. It is called on the goroutine calling
	// Export, once per attribute set while the set keeps being reported
	// (the result is reused), so it must be a pure function of the set;
	// it must not call the Exporter. HTTPStatusOK is ready for HTTP
	// metrics.
	OK func(attrs attribute.Set) bool
	// TagKeys lists the attributes copied into the samples' tags, with the
	// attribute key as the tag name and the value as text. No other
	// attribute becomes a tag.
	TagKeys []attribute.Key
}

// Reduce says how a histogram or summary data point becomes samples.
type Reduce uint8

const (
	// ReduceDistribution emits representative samples spread across the
	// point's buckets in proportion to their counts (down-sampled above
	// the exporter's per-point limit), so that aggregates over the samples
	// (percentiles, mean, count, error rate) match those over the raw
	// measurements to within bucket resolution.
	ReduceDistribution Reduce = iota
	// ReduceMean emits one sample: the point's sum divided by its count.
	ReduceMean
	// ReduceMin emits one sample: the point's minimum (estimated from the
	// buckets when the point has none).
	ReduceMin
	// ReduceMax emits one sample: the point's maximum (estimated from the
	// buckets when the point has none).
	ReduceMax
	// ReduceSum emits one sample: the point's sum of measurements.
	ReduceSum
	// ReduceCount emits one sample: the point's count of measurements.
	ReduceCount
	// ReducePercentile emits one sample: Route.Percentile estimated from
	// the buckets by linear interpolation inside the bucket that holds it.
	ReducePercentile
)

var reduceNames = [...]string{"distribution", "mean", "min", "max", "sum", "count", "percentile"}

// String returns the reduction's lower-case name, such as "distribution".
func (r Reduce) String() string {
	if int(r) < len(reduceNames) {
		return reduceNames[r]
	}
	return "Reduce(" + strconv.Itoa(int(r)) + ")"
}

// route is a validated Route with its own copies of the slices.
type route struct {
	Route
	index int
}

func compileRoutes(routes []Route) ([]*route, error) {
	if len(routes) == 0 {
		return nil, fmt.Errorf("%w: no routes given (an exporter without routes forwards nothing)", ErrInvalidRoute)
	}
	out := make([]*route, len(routes))
	for i, r := range routes {
		if err := validateRoute(i, &r); err != nil {
			return nil, err
		}
		r.Attributes = slices.Clone(r.Attributes)
		r.TagKeys = slices.Clone(r.TagKeys)
		out[i] = &route{Route: r, index: i}
	}
	return out, nil
}

func validateRoute(i int, r *Route) error {
	switch {
	case r.Instrument == "" && r.InstrumentPrefix == "":
		return routeError(i, "Instrument", "required: set Instrument or InstrumentPrefix")
	case r.Instrument != "" && r.InstrumentPrefix != "":
		return routeError(i, "InstrumentPrefix", "set Instrument or InstrumentPrefix, not both")
	case strings.TrimSpace(r.Router) == "":
		return routeError(i, "Router", "required")
	case r.Reduce > ReducePercentile:
		return routeError(i, "Reduce", "unknown value %d", r.Reduce)
	case r.Reduce == ReducePercentile && !(r.Percentile > 0 && r.Percentile <= 100):
		return routeError(i, "Percentile", "must be in (0, 100] with ReducePercentile, got %v", r.Percentile)
	case r.Reduce != ReducePercentile && r.Percentile != 0:
		return routeError(i, "Percentile", "set only with ReducePercentile (Reduce is %s)", r.Reduce)
	case math.IsNaN(r.Percentile):
		return routeError(i, "Percentile", "is NaN")
	case !validUnit(r.Unit):
		return routeError(i, "Unit", "unknown unit %q (want %q, %q, %q, %q or %q)", r.Unit,
			UnitMilliseconds, UnitSeconds, UnitMicroseconds, UnitNanoseconds, UnitAsRecorded)
	}
	seen := make(map[attribute.Key]bool, len(r.Attributes))
	for j, kv := range r.Attributes {
		if !kv.Valid() {
			return routeError(i, "Attributes", "attribute %d (%q) has an empty key or no value", j, string(kv.Key))
		}
		if seen[kv.Key] {
			return routeError(i, "Attributes", "key %q given twice", string(kv.Key))
		}
		seen[kv.Key] = true
	}
	for j, k := range r.TagKeys {
		if k == "" {
			return routeError(i, "TagKeys", "key %d is empty", j)
		}
	}
	return nil
}

func (r *route) matchInstrument(scope, name string) bool {
	if r.Scope != "" && r.Scope != scope {
		return false
	}
	if r.Instrument != "" {
		return r.Instrument == name
	}
	return strings.HasPrefix(name, r.InstrumentPrefix)
}

func (r *route) matchAttrs(set *attribute.Set) bool {
	for _, kv := range r.Attributes {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// metricFor returns the sample metric name for an instrument.
func (r *route) metricFor(instrument string) string {
	if r.Metric != "" {
		return r.Metric
	}
	return instrument
}

// tagsFor returns the allowlisted attributes of set as tags (nil when
// none is present).
func (r *route) tagsFor(set *attribute.Set) map[string]string {
	var tags map[string]string
	for _, k := range r.TagKeys {
		v, ok := set.Value(k)
		if !ok {
			continue
		}
		if tags == nil {
			tags = make(map[string]string, len(r.TagKeys))
		}
		tags[string(k)] = v.String()
	}
	return tags
}
