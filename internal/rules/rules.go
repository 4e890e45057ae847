// Package rules holds what otelbridge's span rules and exporter's metric
// rules have in common: the checks of their shared fields (Router, Metric,
// Attributes, TagKeys), the limit on tag keys, and the reading of an HTTP
// status code from attributes. Each package keeps its own Rule type and
// its own *RuleError, of the same shape.
package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// MaxTagKeys is the most attributes a rule may copy into its samples'
// tags. Each distinct combination of tag values is a series on the
// server, so the tags a rule adds are kept few.
const MaxTagKeys = 4

// Check checks the fields every rule has. It returns the name of the
// first field at fault and the reason, or two empty strings.
func Check(router, metric string, attrs []attribute.KeyValue, tagKeys []attribute.Key) (field, reason string) {
	switch {
	case strings.TrimSpace(router) == "":
		return "Router", "required"
	case strings.TrimSpace(metric) == "":
		return "Metric", "required (the metric a breaker on the router evaluates, such as \"latency\")"
	}
	for j, kv := range attrs {
		if kv.Key == "" {
			return "Attributes", fmt.Sprintf("attribute %d has an empty key", j)
		}
		if kv.Value.Type() == attribute.INVALID {
			return "Attributes", fmt.Sprintf("attribute %d (%q) has no value", j, string(kv.Key))
		}
		for _, prev := range attrs[:j] {
			if prev.Key == kv.Key {
				return "Attributes", fmt.Sprintf("key %q given twice", string(kv.Key))
			}
		}
	}
	if len(tagKeys) > MaxTagKeys {
		return "TagKeys", fmt.Sprintf("%d keys, at most %d allowed", len(tagKeys), MaxTagKeys)
	}
	for j, k := range tagKeys {
		if k == "" {
			return "TagKeys", fmt.Sprintf("key %d is empty", j)
		}
		for _, prev := range tagKeys[:j] {
			if prev == k {
				return "TagKeys", fmt.Sprintf("key %q given twice", string(k))
			}
		}
	}
	return "", ""
}

// The attribute keys of an HTTP response status code: the current
// semantic conventions' and the older one, still recorded by older
// instrumentations.
const (
	StatusKey       = attribute.Key("http.response.status_code")
	LegacyStatusKey = attribute.Key("http.status_code")
)

// StatusCode returns the HTTP status code held by v: an integer, a finite
// floating-point number (its integer part) or decimal text. ok is false
// for any other value.
func StatusCode(v attribute.Value) (code int64, ok bool) {
	switch v.Type() {
	case attribute.INT64:
		return v.AsInt64(), true
	case attribute.FLOAT64:
		f := v.AsFloat64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return int64(f), true
	case attribute.STRING:
		n, err := strconv.ParseInt(v.AsString(), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// SetStatusCode returns the HTTP status code of set (current key first).
func SetStatusCode(set *attribute.Set) (code int64, ok bool) {
	if v, found := set.Value(StatusKey); found {
		if code, ok = StatusCode(v); ok {
			return code, true
		}
	}
	if v, found := set.Value(LegacyStatusKey); found {
		return StatusCode(v)
	}
	return 0, false
}

// ListStatusCode returns the HTTP status code of attrs: the first
// attribute of either key that holds one.
func ListStatusCode(attrs []attribute.KeyValue) (code int64, ok bool) {
	for _, kv := range attrs {
		if kv.Key == StatusKey || kv.Key == LegacyStatusKey {
			if code, ok = StatusCode(kv.Value); ok {
				return code, true
			}
		}
	}
	return 0, false
}
