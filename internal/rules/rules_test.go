package rules

import (
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		router  string
		metric  string
		attrs   []attribute.KeyValue
		tagKeys []attribute.Key
		field   string
	}{
		{"valid", "rtr", "latency", []attribute.KeyValue{attribute.String("a", "b")}, []attribute.Key{"a", "b", "c", "d"}, ""},
		{"no router", " ", "latency", nil, nil, "Router"},
		{"no metric", "rtr", "", nil, nil, "Metric"},
		{"empty attribute key", "rtr", "m", []attribute.KeyValue{{Value: attribute.IntValue(1)}}, nil, "Attributes"},
		{"attribute without value", "rtr", "m", []attribute.KeyValue{{Key: "k"}}, nil, "Attributes"},
		{"attribute twice", "rtr", "m", []attribute.KeyValue{attribute.Int("k", 1), attribute.Int("k", 2)}, nil, "Attributes"},
		{"too many tag keys", "rtr", "m", nil, []attribute.Key{"a", "b", "c", "d", "e"}, "TagKeys"},
		{"empty tag key", "rtr", "m", nil, []attribute.Key{""}, "TagKeys"},
		{"tag key twice", "rtr", "m", nil, []attribute.Key{"a", "a"}, "TagKeys"},
	}
	for _, tt := range tests {
		field, reason := Check(tt.router, tt.metric, tt.attrs, tt.tagKeys)
		if field != tt.field || (field != "") != (reason != "") {
			t.Errorf("%s: Check = %q, %q; want field %q", tt.name, field, reason, tt.field)
		}
	}
	if _, reason := Check("rtr", "m", nil, []attribute.Key{"a", "b", "c", "d", "e"}); !strings.Contains(reason, "at most 4") {
		t.Errorf("reason %q does not give the limit", reason)
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		v    attribute.Value
		code int64
		ok   bool
	}{
		{attribute.IntValue(503), 503, true},
		{attribute.Float64Value(502), 502, true},
		{attribute.StringValue("404"), 404, true},
		{attribute.StringValue("timeout"), 0, false},
		{attribute.Float64Value(math.NaN()), 0, false},
		{attribute.Float64Value(math.Inf(1)), 0, false},
		{attribute.BoolValue(true), 0, false},
		{attribute.Value{}, 0, false},
	}
	for _, tt := range tests {
		if code, ok := StatusCode(tt.v); code != tt.code || ok != tt.ok {
			t.Errorf("StatusCode(%v) = %d, %v; want %d, %v", tt.v.Emit(), code, ok, tt.code, tt.ok)
		}
	}
}

func TestStatusCodeKeys(t *testing.T) {
	tests := []struct {
		name  string
		attrs []attribute.KeyValue
		code  int64
		ok    bool
	}{
		{"current", []attribute.KeyValue{attribute.Int("http.response.status_code", 500)}, 500, true},
		{"legacy", []attribute.KeyValue{attribute.Int("http.status_code", 404)}, 404, true},
		{"current unusable, legacy used", []attribute.KeyValue{attribute.String("http.response.status_code", "x"), attribute.Int("http.status_code", 502)}, 502, true},
		{"none", []attribute.KeyValue{attribute.String("error.type", "timeout")}, 0, false},
	}
	for _, tt := range tests {
		set := attribute.NewSet(tt.attrs...)
		if code, ok := SetStatusCode(&set); code != tt.code || ok != tt.ok {
			t.Errorf("%s: SetStatusCode = %d, %v; want %d, %v", tt.name, code, ok, tt.code, tt.ok)
		}
		if code, ok := ListStatusCode(tt.attrs); code != tt.code || ok != tt.ok {
			t.Errorf("%s: ListStatusCode = %d, %v; want %d, %v", tt.name, code, ok, tt.code, tt.ok)
		}
	}
}
