// Package tripswitch is the runtime client of Tripswitch, a hosted circuit
// breaker service.
//
// A Client keeps the states of a project's breakers in sync over a
// server-sent event stream, gates calls on them locally (Execute never waits
// on the network), and reports samples (latency, errors, any number) in
// batched, gzip-compressed, HMAC-signed requests. The service evaluates the
// samples and opens or closes breakers; every client sees the change within
// moments.
//
//	client, err := tripswitch.NewClient(ctx, "proj_abc123",
//		tripswitch.WithProjectKey(os.Getenv("TRIPSWITCH_API_KEY")),
//		tripswitch.WithIngestSecret(os.Getenv("TRIPSWITCH_INGEST_SECRET")),
//	)
//	if errors.Is(err, tripswitch.ErrNotSynced) {
//		log.Print(err) // unreachable for now: calls run (fail-open) meanwhile
//	} else if err != nil {
//		log.Fatal(err) // a key, project or URL the server refuses
//	}
//	defer client.Close(context.Background())
//
//	quote, err := tripswitch.Execute(client, ctx, fetchQuote,
//		tripswitch.WithBreakers("pricing-latency"),
//		tripswitch.WithRouter("rtr_pricing"),
//		tripswitch.WithMetric("latency", tripswitch.Latency),
//	)
//	if errors.Is(err, tripswitch.ErrOpen) {
//		quote = cachedQuote // the breaker rejected the call
//	}
//
// # Gating
//
// Only the breakers named for a call (WithBreakers, or chosen from metadata
// by WithBreakerSelector) are checked. Any of them open rejects the call;
// otherwise the smallest allow rate among half-open ones decides at random.
// A breaker the client has never heard of counts as closed. With fail-open
// (the default), calls run whenever the client has no fresh state; with
// WithFailOpen(false) they are rejected with ReasonUnavailable until the
// stream has delivered state, and again once it has been down longer than
// the grace period. WithLocalFallback adds a third way: while the state is
// not fresh, a local breaker per named breaker, tripped by this client's
// own outcomes, gates the calls (rejecting with ReasonLocal), and the
// service's state takes over again as soon as the stream syncs.
//
// # Start-up
//
// NewClient never hangs. Refusals that retrying cannot fix (a wrong key or
// project ID, an admin key given as the project key, a base URL ending in
// /v1, an untrusted TLS certificate) return an error at once. While the
// server cannot be reached, NewClient returns when ctx ends or, for a ctx
// without a deadline, after the startup timeout (WithStartupTimeout,
// default 10 s), with a working client and an error matching ErrNotSynced;
// the client keeps connecting in the background, and WaitSynced waits for
// the first sync. A project without breakers counts as synced once the
// stream is connected and its metadata lists none. After each metadata
// sync, breaker names and router IDs used in calls that the project does
// not have are logged once each. The stream adds at most MaxBreakers
// breakers to the state cache.
//
// # Samples
//
// A call with a router (WithRouter or WithRouterSelector) emits one sample
// per metric. Samples wait in a bounded buffer and are sent every flush
// interval or as soon as a batch is full. Each sample carries its
// timestamp and the server orders by it: samples of one goroutine are not
// promised to be sent in the order they were produced. A batch that fails
// with a 5xx or 429, or in transport, stays queued and is retried with
// capped exponential backoff; when the buffer is full the oldest samples
// make room and are counted as dropped.
//
// Nothing is lost silently. A sample beyond the ingest contract's limits
// is refused by Report (ErrInvalidSample), or dropped and counted when a
// call produces it. A batch the server refuses (400, 401, 403, 413) is
// dropped and makes Flush and Close return a *DeliveryError with the
// server's status, code and message; a 400 or 413 is first split to
// deliver the samples the server accepts. Warnings go to slog.Default() by
// default. Stats reports produced, delivered, dropped and buffered
// samples, and Produced = Delivered + Dropped + Buffered always holds.
//
// # Hot paths
//
// Prepare compiles call options once; the resulting Call executes without
// option parsing or allocation. Reporter does the same for Report.
//
// # Observing the client
//
// Hooks (WithHooks) report state changes, rejections (with the call's
// context) and delivery attempts; package otelbridge uses them to publish
// OpenTelemetry metrics and span events. This package itself depends on no
// telemetry library.
package tripswitch
