// Package tripswitchhttp protects HTTP dependencies and endpoints with
// Tripswitch breakers, without a closure around every call.
//
// A Transport wraps an http.RoundTripper on the client side, in the shape
// of otelhttp.NewTransport: each request is gated on its breakers from the
// client's local state and, once let through, reports its outcome (5xx
// and transport errors are failures) and its latency to the end of the
// body as samples.
//
//	tr, err := tripswitchhttp.NewTransport(http.DefaultTransport, client,
//		tripswitchhttp.WithBreakers("payments-errors"),
//		tripswitchhttp.WithRouter("rtr_payments"),
//	)
//	...
//	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
//	resp, err := hc.Get(paymentsURL)
//	if errors.Is(err, tripswitch.ErrOpen) {
//		// the breaker rejected the request; it never left the process
//	}
//
// A Handler wraps an http.Handler on the server side, for load shedding
// on endpoints the application owns: rejected requests are answered 503
// Service Unavailable with Retry-After, and samples carry the route.
//
// Samples carry the trace ID of the OpenTelemetry span in the request's
// context (without one, the client's trace-ID extractor decides). Both
// wrappers work with otelhttp in either order: with otelhttp outside
// (otelhttp.NewTransport(tripswitchhttp.NewTransport(...))) the samples
// carry the trace of the client span, and a rejected request ends that
// span with the breaker's error; inside, they carry the caller's span,
// which belongs to the same trace, and a rejected request makes no span.
// An http.Client.Timeout that expires is a failure; a request the caller
// cancels produces no sample.
package tripswitchhttp
