// Otel-demo shows Tripswitch and OpenTelemetry working together in one
// process, with no account and no flags:
//
//	go run ./examples/otel-demo
//
// It starts the project's local Tripswitch server on a loopback port,
// creates a "payments" router with a p95-latency breaker and an error-rate
// breaker through the management API, and runs a small "checkout" HTTP
// service that calls a simulated "payments" dependency through a
// tripswitchhttp transport, which gates each call on the breakers and
// reports its outcome. A load generator drives checkout at a steady rate
// through four phases: healthy, latency spike, outage and recovery. While
// a breaker is open, checkout answers with a fallback instead of calling
// payments.
//
// Every second the demo prints the phase, the request rate, how many
// checkouts were paid, answered by the fallback or failed, the p95 latency
// seen by the client and each breaker's state. At the end it prints a
// summary and exits with status 0 when a breaker opened during the outage
// and all of them were closed again during recovery, 1 otherwise, and 2 for
// bad flags or environment or an address given with -metrics-addr or
// -checkout-addr that is already in use (checked before anything starts).
// When the default metrics port is in use (another demo, or the compose
// stack, which publishes it), the demo serves metrics on a free port and
// says so.
//
// Telemetry: traces and metrics come from otelhttp on both services and
// from package otelbridge (breaker state, rejections, sample delivery);
// package exporter forwards http.client.request.duration to the payments
// router as samples. Metrics are served for Prometheus on
// 127.0.0.1:9464/metrics; otelhttp's request durations use buckets that
// fit the demo's latencies (5 ms to the 1 s timeout), so a p95 read back by
// histogram_quantile is close to the real one. When
// OTEL_EXPORTER_OTLP_ENDPOINT is set, traces and metrics are also exported
// over OTLP/HTTP; a collector that cannot be reached earns a warning and a
// line in the summary, and does not change the result.
//
// Flags:
//
//	-duration        length of the whole schedule; breaker windows scale with it (default 60s)
//	-rps             checkout requests per second (default 50)
//	-seed            seed of the simulated dependency (default 1)
//	-metrics-addr    Prometheus endpoint address; empty disables it (default 127.0.0.1:9464)
//	-checkout-addr   checkout service address (default 127.0.0.1:0, a free port)
//	-flush-interval  sample flush interval of the Tripswitch client (default 250ms)
//
// Environment:
//
//	TRIPSWITCH_PROJECT_ID     use this project on an existing server instead of
//	                          the in-process one; needs TRIPSWITCH_API_KEY and
//	                          TRIPSWITCH_INGEST_SECRET
//	TRIPSWITCH_BASE_URL       that server (default https://api.tripswitch.dev)
//	TRIPSWITCH_ADMIN_KEY      creates or updates the router and breakers; without
//	                          it they must already exist (see the README)
//	TRIPSWITCH_INSECURE_HTTP  "1" allows plain http to a non-loopback server
//	OTEL_EXPORTER_OTLP_ENDPOINT  enables OTLP/HTTP export (OTEL_EXPORTER_OTLP_* apply)
//	NO_COLOR                  disables colours (they are used only on a terminal)
//
// Ctrl-C (or SIGTERM) stops the load, flushes every sample, span and
// metric, prints the summary (which says which phases were not reached)
// and exits with status 1; a second Ctrl-C ends the process at once.
package main
