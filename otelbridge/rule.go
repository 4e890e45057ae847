package otelbridge

import (
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/internal/rules"
)

// MaxTagKeys is the most attribute keys a Rule may copy into tags; it is
// the same limit as exporter.MaxTagKeys.
const MaxTagKeys = rules.MaxTagKeys

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
	// Metric is the samples' metric name: the metric a breaker linked to
	// Router evaluates, such as "latency". Required.
	Metric string
	// OK classifies a span: false makes a failed sample. Default: the span
	// status is not codes.Error. It runs inside the span's End, so it must
	// be fast; a panic in it drops the sample, counted in the processor's
	// Stats. See OKBelowHTTPStatus.
	OK func(sdktrace.ReadOnlySpan) bool
	// TagKeys lists the span attributes (at most MaxTagKeys, each once)
	// copied into the sample's tags, under the attribute's key and with
	// the attribute's value as text. Only these attributes become tags,
	// never all of them: each distinct combination of values is a series
	// on the server. A missing attribute leaves its tag out.
	TagKeys []attribute.Key
}

// OKBelowHTTPStatus returns an OK function for Rule that counts a span as a
// failure when its HTTP response status code (attribute
// http.response.status_code, or the older http.status_code; an integer, a
// number or decimal text) is code or above. A span without a status code
// is a failure when its status is codes.Error. OKBelowHTTPStatus(500)
// fails server errors only, even though HTTP client instrumentations mark
// 4xx spans as errors. exporter.OKBelowHTTPStatus is the same for metrics.
func OKBelowHTTPStatus(code int) func(sdktrace.ReadOnlySpan) bool {
	limit := int64(code)
	return func(s sdktrace.ReadOnlySpan) bool {
		if n, ok := rules.ListStatusCode(s.Attributes()); ok {
			return n < limit
		}
		return s.Status().Code != codes.Error
	}
}

func ruleError(i int, field, format string, args ...any) error {
	return &RuleError{Index: i, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// validate checks r (the i-th rule).
func (r Rule) validate(i int) error {
	switch {
	case r.Name != "" && r.NamePrefix != "":
		return ruleError(i, "NamePrefix", "set Name or NamePrefix, not both")
	case r.Kind < trace.SpanKindUnspecified || r.Kind > trace.SpanKindConsumer:
		return ruleError(i, "Kind", "unknown span kind %d", int(r.Kind))
	}
	if field, reason := rules.Check(r.Router, r.Metric, r.Attributes, r.TagKeys); field != "" {
		return &RuleError{Index: i, Field: field, Reason: reason}
	}
	return nil
}
