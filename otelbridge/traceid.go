package otelbridge

import (
	"context"
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// TraceID returns the trace ID of the span in ctx as 32 lowercase hex
// digits, or "" when ctx holds no valid span context. It is the trace-ID
// extractor that Bridge.ClientOptions installs; pass it to
// tripswitch.WithTraceIDExtractor to use it alone.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return traceIDString(sc.TraceID())
}

// traceIDString encodes id with a single allocation (the string).
func traceIDString(id trace.TraceID) string {
	var buf [2 * len(trace.TraceID{})]byte
	hex.Encode(buf[:], id[:])
	return string(buf[:])
}
