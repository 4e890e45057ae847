package otelbridge

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultMetric is the metric name of a Rule that sets none.
const DefaultMetric = "latency"

// MaxTagKeys is the most attribute keys a Rule may copy into tags.
const MaxTagKeys = 4

// ErrInvalidRule reports a Rule that cannot be used; the error names the
// rule's index and the offending field.
var ErrInvalidRule = errors.New("otelbridge: invalid rule")

// A Rule selects ended spans and turns each into one sample for a router.
//
// A span matches when every selector that is set matches: Name or
// NamePrefix, Kind, Scope and Attributes. A rule with no selector matches
// every span. A span matching several rules yields one sample per rule.
//
// The sample's value is the span's duration in milliseconds, its time the
// span's start, its trace ID the span's, and it is ok unless OK says
// otherwise.
type Rule struct {
	// Name selects spans with exactly this name. At most one of Name and
	// NamePrefix may be set.
	Name string
	// NamePrefix selects spans whose name starts with it.
	NamePrefix string
	// Kind selects spans of this kind; trace.SpanKindUnspecified (zero)
	// selects every kind.
	Kind trace.SpanKind
	// Scope selects spans from the instrumentation scope with this name,
	// such as "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp".
	Scope string
	// Attributes selects spans carrying every one of these attributes with
	// an equal value.
	Attributes []attribute.KeyValue

	// Router is the router the samples feed. Required.
	Router string
	// Metric is the samples' metric name. Default DefaultMetric ("latency").
	Metric string
	// OK classifies a span: false makes a failed sample. Default: the span
	// status is not codes.Error. It runs inside the span's End, so it must
	// be fast; a panic in it drops the sample. See OKBelowHTTPStatus.
	OK func(sdktrace.ReadOnlySpan) bool
	// TagKeys lists the span attributes (at most MaxTagKeys) copied into
	// the sample's tags, under the attribute's key and with the attribute's
	// value as text. Only these attributes become tags, never all of them:
	// each distinct combination of values is a series on the server. A
	// missing attribute leaves its tag out.
	TagKeys []attribute.Key
}

// HTTP status code attribute keys, current and legacy semantic conventions.
const (
	httpStatusKey       = attribute.Key("http.response.status_code")
	legacyHTTPStatusKey = attribute.Key("http.status_code")
)

// OKBelowHTTPStatus returns an OK function for Rule that counts a span as a
// failure when its HTTP response status code (attribute
// http.response.status_code, or the older http.status_code) is code or
// above. A span without a status code is a failure when its status is
// codes.Error. OKBelowHTTPStatus(500) fails server errors only, even though
// HTTP client instrumentations mark 4xx spans as errors.
func OKBelowHTTPStatus(code int) func(sdktrace.ReadOnlySpan) bool {
	return func(s sdktrace.ReadOnlySpan) bool {
		for _, kv := range s.Attributes() {
			if (kv.Key == httpStatusKey || kv.Key == legacyHTTPStatusKey) && kv.Value.Type() == attribute.INT64 {
				return kv.Value.AsInt64() < int64(code)
			}
		}
		return s.Status().Code != codes.Error
	}
}

func ruleError(i int, field, format string, args ...any) error {
	return fmt.Errorf("%w %d: %s: %s", ErrInvalidRule, i, field, fmt.Sprintf(format, args...))
}

// validate checks r (the i-th rule) and returns a copy with defaults.
func (r Rule) validate(i int) (Rule, error) {
	switch {
	case strings.TrimSpace(r.Router) == "":
		return r, ruleError(i, "Router", "required")
	case r.Name != "" && r.NamePrefix != "":
		return r, ruleError(i, "NamePrefix", "cannot be used together with Name")
	case r.Kind < trace.SpanKindUnspecified || r.Kind > trace.SpanKindConsumer:
		return r, ruleError(i, "Kind", "unknown span kind %d", int(r.Kind))
	case len(r.TagKeys) > MaxTagKeys:
		return r, ruleError(i, "TagKeys", "%d keys, at most %d allowed", len(r.TagKeys), MaxTagKeys)
	}
	for j, kv := range r.Attributes {
		if kv.Key == "" {
			return r, ruleError(i, fmt.Sprintf("Attributes[%d]", j), "empty key")
		}
		if kv.Value.Type() == attribute.INVALID {
			return r, ruleError(i, fmt.Sprintf("Attributes[%d]", j), "attribute %q has no value", kv.Key)
		}
	}
	for j, k := range r.TagKeys {
		if k == "" {
			return r, ruleError(i, fmt.Sprintf("TagKeys[%d]", j), "empty key")
		}
		for _, prev := range r.TagKeys[:j] {
			if prev == k {
				return r, ruleError(i, fmt.Sprintf("TagKeys[%d]", j), "duplicate key %q", k)
			}
		}
	}
	if r.Metric == "" {
		r.Metric = DefaultMetric
	}
	return r, nil
}
