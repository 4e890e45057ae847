package exporter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/tripswitch-otel/tripswitch-go/internal/rules"
)

// MaxTagKeys is the most attribute keys a Rule may copy into tags; it is
// the same limit as otelbridge.MaxTagKeys. Each distinct combination of
// tag values is a series on the server.
const MaxTagKeys = rules.MaxTagKeys

// A Rule selects instruments and says where and how their data points
// become samples. An instrument selected by several rules feeds each of
// them.
type Rule struct {
	// Instrument selects the instrument with exactly this name. Set it or
	// InstrumentPrefix, not both.
	Instrument string
	// InstrumentPrefix selects every instrument whose name starts with it.
	InstrumentPrefix string
	// Scope, when set, restricts the rule to instruments of the
	// instrumentation scope with this name (for example
	// "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp").
	Scope string
	// Attributes, when set, restricts the rule to data points that carry
	// every one of these attributes with an equal value.
	Attributes []attribute.KeyValue

	// Router is the ID of the Tripswitch router the samples go to.
	// Required.
	Router string
	// Metric is the samples' metric name: the metric a breaker linked to
	// Router evaluates, such as "latency". Required.
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
	// it must not call the Exporter. OKBelowHTTPStatus is ready for
	// HTTP metrics.
	OK func(attrs attribute.Set) bool
	// TagKeys lists the attributes (at most MaxTagKeys, each once) copied
	// into the samples' tags, with the attribute key as the tag name and
	// the value as text. No other attribute becomes a tag; a missing
	// attribute leaves its tag out.
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
	// ReducePercentile emits one sample: Rule.Percentile estimated from
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

// rule is a validated Rule with its own copies of the slices.
type rule struct {
	Rule
	index int
}

func compileRules(rules []Rule) ([]*rule, error) {
	if len(rules) == 0 {
		return nil, fmt.Errorf("%w: no rules given (an exporter without rules forwards nothing)", ErrInvalidRule)
	}
	out := make([]*rule, len(rules))
	for i, r := range rules {
		if err := validateRule(i, &r); err != nil {
			return nil, err
		}
		r.Attributes = slices.Clone(r.Attributes)
		r.TagKeys = slices.Clone(r.TagKeys)
		out[i] = &rule{Rule: r, index: i}
	}
	return out, nil
}

func validateRule(i int, r *Rule) error {
	switch {
	case r.Instrument == "" && r.InstrumentPrefix == "":
		return ruleError(i, "Instrument", "required: set Instrument or InstrumentPrefix")
	case r.Instrument != "" && r.InstrumentPrefix != "":
		return ruleError(i, "InstrumentPrefix", "set Instrument or InstrumentPrefix, not both")
	}
	if field, reason := rules.Check(r.Router, r.Metric, r.Attributes, r.TagKeys); field != "" {
		return &RuleError{Index: i, Field: field, Reason: reason}
	}
	switch {
	case r.Reduce > ReducePercentile:
		return ruleError(i, "Reduce", "unknown value %d", r.Reduce)
	case r.Reduce == ReducePercentile && !(r.Percentile > 0 && r.Percentile <= 100):
		return ruleError(i, "Percentile", "must be in (0, 100] with ReducePercentile, got %v", r.Percentile)
	case r.Reduce != ReducePercentile && r.Percentile != 0:
		return ruleError(i, "Percentile", "set only with ReducePercentile (Reduce is %s)", r.Reduce)
	case math.IsNaN(r.Percentile):
		return ruleError(i, "Percentile", "is NaN")
	case !validUnit(r.Unit):
		return ruleError(i, "Unit", "unknown unit %q (want %q, %q, %q, %q or %q)", r.Unit,
			UnitMilliseconds, UnitSeconds, UnitMicroseconds, UnitNanoseconds, UnitAsRecorded)
	}
	return nil
}

func (r *rule) matchInstrument(scope, name string) bool {
	if r.Scope != "" && r.Scope != scope {
		return false
	}
	if r.Instrument != "" {
		return r.Instrument == name
	}
	return strings.HasPrefix(name, r.InstrumentPrefix)
}

func (r *rule) matchAttrs(set *attribute.Set) bool {
	for _, kv := range r.Attributes {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// metricFor returns the sample metric name for an instrument.
func (r *rule) metricFor(string) string { return r.Metric }

// tagsFor returns the allowlisted attributes of set as tags (nil when
// none is present).
func (r *rule) tagsFor(set *attribute.Set) map[string]string {
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
