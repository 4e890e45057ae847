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
// Both work with otelhttp in either order. With otelhttp outside
// (otelhttp.NewTransport(tripswitchhttp.NewTransport(...))) the samples
// carry the trace ID of the client span; inside, that of the caller's span,
// which belongs to the same trace. Either way the client needs a trace-ID
// extractor (otelbridge.TraceID, or Bridge.ClientOptions). An
// http.Client.Timeout that expires is a failure; a request the caller
// cancels produces no sample.
package tripswitchhttp
