package otelbridge_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
)

func TestTraceID(t *testing.T) {
	tid, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	valid := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"no span", context.Background(), ""},
		{"valid span", trace.ContextWithSpanContext(context.Background(), valid), "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"unsampled span", trace.ContextWithSpanContext(context.Background(), valid.WithTraceFlags(0)), "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"remote span", trace.ContextWithRemoteSpanContext(context.Background(), valid), "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"trace ID without span ID", trace.ContextWithSpanContext(context.Background(),
			trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid})), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := otelbridge.TraceID(tc.ctx); got != tc.want {
				t.Errorf("TraceID = %q, want %q", got, tc.want)
			}
		})
	}
}
