package gateset

import (
	"context"
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// TraceID returns the trace ID of the span in ctx as 32 lowercase hex
// digits, or "" without a valid span, with one allocation.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	id := sc.TraceID()
	var buf [2 * len(trace.TraceID{})]byte
	hex.Encode(buf[:], id[:])
	return string(buf[:])
}
