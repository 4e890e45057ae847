package tripswitchexporter

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// pushTraces turns the spans the rules select into samples and sends them.
func (e *tsExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	if e.spans == nil {
		return nil
	}
	if s, ok := e.retries.take(td); ok {
		return e.send(ctx, td, s)
	}
	return e.send(ctx, td, e.convertTraces(td))
}

// convertTraces returns the samples of td's spans.
func (e *tsExporter) convertTraces(td ptrace.Traces) []wire.Sample {
	e.spanMu.Lock()
	defer e.spanMu.Unlock()
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		e.spanConv.resource = appendAttributes(e.spanConv.resource[:0], rss.At(i).Resource().Attributes())
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			ss := sss.At(j)
			scope := instrumentation.Scope{Name: ss.Scope().Name(), Version: ss.Scope().Version()}
			spans := ss.Spans()
			for k := range spans.Len() {
				e.spans.OnEnd(e.spanConv.convert(spans.At(k), scope))
			}
		}
	}
	return e.spanBatch.take()
}

// spanConverter turns pdata spans into the read-only spans the rules of
// otelbridge evaluate. A span's attributes are its own followed by those
// of its resource it does not have, so that rules select and tag by
// service.name too. It reuses its buffers: the processor keeps no
// reference to a span after OnEnd.
type spanConverter struct {
	resource []attribute.KeyValue // of the resource being converted
	attrs    []attribute.KeyValue
}

func (c *spanConverter) convert(s ptrace.Span, scope instrumentation.Scope) sdktrace.ReadOnlySpan {
	own := s.Attributes()
	c.attrs = appendAttributes(c.attrs[:0], own)
	for _, kv := range c.resource {
		if _, dup := own.Get(string(kv.Key)); !dup {
			c.attrs = append(c.attrs, kv)
		}
	}
	status := codes.Unset
	switch s.Status().Code() {
	case ptrace.StatusCodeError:
		status = codes.Error
	case ptrace.StatusCodeOk:
		status = codes.Ok
	}
	return tracetest.SpanStub{
		Name: s.Name(),
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID(s.TraceID()),
			SpanID:  trace.SpanID(s.SpanID()),
		}),
		SpanKind:             trace.SpanKind(s.Kind()), // the OTLP and API enumerations agree
		StartTime:            s.StartTimestamp().AsTime(),
		EndTime:              s.EndTimestamp().AsTime(),
		Attributes:           c.attrs,
		Status:               sdktrace.Status{Code: status},
		InstrumentationScope: scope,
	}.Snapshot()
}

// appendAttributes appends m as attributes; values other than strings,
// integers, doubles and booleans become their text.
func appendAttributes(dst []attribute.KeyValue, m pcommon.Map) []attribute.KeyValue {
	for k, v := range m.All() {
		dst = append(dst, attributeOf(k, v))
	}
	return dst
}

func attributeOf(k string, v pcommon.Value) attribute.KeyValue {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return attribute.String(k, v.Str())
	case pcommon.ValueTypeInt:
		return attribute.Int64(k, v.Int())
	case pcommon.ValueTypeDouble:
		return attribute.Float64(k, v.Double())
	case pcommon.ValueTypeBool:
		return attribute.Bool(k, v.Bool())
	}
	return attribute.String(k, v.AsString())
}
