// Package otelbridge connects a tripswitch.Client to an existing
// OpenTelemetry pipeline: samples carry the trace ID of the current span,
// breakers are fed from the spans the application already produces, and
// breaker states, rejections and client health appear as metrics of the
// application's MeterProvider. Package tripswitch itself does not depend on
// OpenTelemetry; this package works through its hooks.
//
//	bridge := otelbridge.New(otelbridge.WithMeterProvider(meterProvider))
//	...
//	client, err := tripswitch.NewClient(ctx, "proj_abc123", append(bridge.ClientOptions(),
//		tripswitch.WithProjectKey(os.Getenv("TRIPSWITCH_API_KEY")),
//		tripswitch.WithIngestSecret(os.Getenv("TRIPSWITCH_INGEST_SECRET")),
//	)...)
//	...
//	defer client.Close(context.Background())
//	if err := bridge.Observe(client); err != nil { ... }
//	defer bridge.Shutdown(context.Background())
//
//	spans, err := otelbridge.NewSpanProcessor(client, otelbridge.Rule{
//		Name:   "GET /checkout",
//		Kind:   trace.SpanKindServer,
//		Router: "rtr_checkout",
//		Metric: "latency",
//		OK:     otelbridge.OKBelowHTTPStatus(500),
//	})
//	...
//	tracerProvider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans), ...)
//
// The Bridge's instruments are created by Observe. When the MeterProvider
// can only be built after the client (one of its readers exports through
// package exporter, which needs the client), call New without it and pass
// it to Observe instead:
//
//	bridge := otelbridge.New()
//	client, err := tripswitch.NewClient(ctx, projectID, bridge.ClientOptions()...)
//	forward, err := exporter.New(client, rules)
//	meterProvider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(forward)))
//	err = bridge.Observe(client, otelbridge.WithMeterProvider(meterProvider))
//
// # Trace IDs
//
// TraceID extracts the trace ID (32 lowercase hex digits) of the valid span
// context in a context. Bridge.ClientOptions installs it as the client's
// trace-ID extractor, so every sample of an Execute inside a span carries
// that span's trace ID.
//
// # Spans to samples
//
// A SpanProcessor turns ended spans into samples. Rules select spans by
// name (exact or prefix), kind, instrumentation scope and attribute values,
// and name the router and metric they feed. A sample's value is the span's
// duration in milliseconds, it is ok unless the span status is Error (or
// the rule's OK function says otherwise), and it carries the span's trace
// ID. Tags come only from the attributes a rule lists in TagKeys. A sample
// the client refuses (a span stamped minutes ahead of the client's clock,
// say) is counted in SpanProcessor.Stats, and the first refusal in any
// minute goes to the OpenTelemetry error handler (otel.Handle).
//
// A span processor sees only the spans the tracer provider records. With a
// sampler that drops spans, breakers are fed from the sampled share, which
// keeps rates such as error_rate meaningful but scales counts down. A
// sampler that returns sdktrace.RecordOnly instead of sdktrace.Drop for the
// spans it does not sample feeds every span to the processor while the
// exporters still receive only the sampled ones.
//
// # Metrics
//
// The Bridge's meter has scope name ScopeName and version Version. Every
// instrument carries the attribute tripswitch.project.id. Observable
// instruments are read from Client.Stats and Client.States at each
// collection, from one callback registered by Observe and unregistered by
// Shutdown; a breaker the client no longer knows is absent from the next
// collection. The transition and rejection counters are fed by hooks as
// events happen, so a breaker that opens and closes between two
// collections still shows in them. Rejections are recorded with the
// rejected call's context, so exemplars (when the MeterProvider keeps them)
// point at its trace.
//
//	Name                               Kind                   Unit          Attributes                    Meaning
//	tripswitch.breaker.state           UpDownCounter (async)  1             breaker.name, breaker.state   1 for the breaker's current state, 0 for the two others
//	tripswitch.breaker.allow_rate      Gauge (async)          1             breaker.name                  share of calls let through: 1 closed, 0 open, the server's rate in half-open
//	tripswitch.breaker.count           UpDownCounter (async)  {breaker}                                   breakers in the client's state cache
//	tripswitch.breaker.transitions     Counter                {transition}  breaker.name,                 state changes received for known breakers
//	                                                                        breaker.previous_state,
//	                                                                        breaker.state
//	tripswitch.breaker.rejections      Counter                {call}        breaker.name,                 calls rejected by a breaker
//	                                                                        rejection.reason
//	tripswitch.breaker.local.state     UpDownCounter (async)  1             breaker.name, breaker.state   while the breaker is under the local fallback policy: 1 for its local state, 0 for the two others; absent otherwise
//	tripswitch.breaker.local.transitions  Counter             {transition}  breaker.name,                 breakers coming under the local fallback policy (local true,
//	                                                                        breaker.previous_state,       closed to closed), changing state under it, and leaving it
//	                                                                        breaker.state, breaker.local  (local false, to the service's state)
//	tripswitch.sample.produced         Counter (async)        {sample}                                    samples created by calls, Report and the SpanProcessor
//	tripswitch.sample.delivered        Counter (async)        {sample}                                    samples the server accepted
//	tripswitch.sample.dropped          Counter (async)        {sample}                                    samples given up (buffer overflow, refused batches, after Close)
//	tripswitch.buffer.usage            UpDownCounter (async)  {sample}                                    samples waiting for delivery
//	tripswitch.buffer.limit            UpDownCounter (async)  {sample}                                    capacity of the sample buffer
//	tripswitch.stream.connected        UpDownCounter (async)  {connection}                                1 while the state stream is connected, else 0
//	tripswitch.stream.reconnects       Counter (async)        {reconnect}                                 state stream connections after the first
//	tripswitch.stream.last_event.age   Gauge (async)          s                                           time since the last state event; absent before the first
//	tripswitch.flush.failures          Counter (async)        {failure}                                   failed delivery attempts
//	tripswitch.flush.last_success.age  Gauge (async)          s                                           time since the last delivered batch; absent before the first
//
// Attribute names above omit the "tripswitch." prefix: breaker.name is
// tripswitch.breaker.name. Its values: breaker.state and
// breaker.previous_state are "closed", "open" or "half_open";
// rejection.reason is "open", "throttled", "unavailable" or "local" (the
// local fallback policy, tripswitch.WithLocalFallback, rejected the call);
// breaker.local is a boolean.
//
// The state metric is an up-down counter so that summing it across
// instances counts the instances that see a breaker in each state; drawn
// per instance it is a state timeline.
//
// # Span events
//
// When a breaker rejects a call, the recording span in the call's context
// gets the event tripswitch.breaker.rejected with the attributes
// tripswitch.breaker.name, tripswitch.breaker.state and
// tripswitch.rejection.reason.
package otelbridge
