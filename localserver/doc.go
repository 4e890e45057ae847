// Package localserver is a local Tripswitch server: it speaks the whole wire
// contract (state streams, signed sample ingestion, metadata, status and the
// management API) and evaluates breakers for real, so that applications and
// tests run against it on one machine, without an account or a network.
//
// A [Server] holds one organisation (with one admin key) and any number of
// workspaces and projects. [New] creates a default workspace and a default
// project with a project key and an ingest secret; [Server.Credentials]
// returns them. Package localservertest starts a server for a test in one
// line; cmd/tripswitch-local runs one as a program.
//
// # Behaviour
//
// A breaker sees the samples whose router_id is linked to it and whose metric
// equals its metric. Breakers are evaluated every eval_interval_ms by the
// loop that [Server.Start] runs (or on demand with [Server.Evaluate]); every
// transition is an event, listed by the events endpoint and pushed at once to
// every state stream of the project. Streams start with a snapshot of every
// breaker, carry ": ping" comments every 15 seconds, and end on
// [Server.Shutdown]. A stream that falls more than 256 events behind is
// closed so that its client reconnects and receives a fresh snapshot.
//
// Authentication follows the hosted service: the admin key for the
// management API (a project key there is 403); a project key only for its
// own project (another project's key, or the admin key, is 403; an unknown
// key 401); breaker state reads (GET …/breakers/{id}/state and POST
// …/breakers/state:batch) with either the admin key or a key of the
// project, as the published SDKs read state with the project key; ingest
// only with a valid X-EB-Signature for the project's current secret and a
// timestamp within five minutes of the server's clock (401 otherwise).
// Rotating the secret takes effect with the next request. Deleting a
// project key ends the state streams opened with it at once. A project
// whose enable_signed_ingest is set to false accepts unsigned batches.
//
// Breakers are rendered with router_ids and, for older clients, router_id:
// the first linked router ("" when none).
//
// Errors are {"code","message"} bodies, with "field" naming the offending
// field of a validation error. Every response carries X-Request-ID (the
// client's, when it sent a well-formed one). POST requests (management API
// and ingest) honour Idempotency-Key for 24 hours, per credential and path:
// the same key and body replay the first response (with Idempotent-Replayed:
// true) without acting again, the same key with another body is 422
// idempotency_key_reused, and a repeat while the first is running is 409.
// Keys are recorded only once the request is authenticated (for ingest:
// signed with the project's current secret), and each credential has its
// own records, so that no request can claim or evict another credential's
// keys.
//
// Local choices where the contract is silent: list calls with ?cursor=&limit=
// return next_cursor while more items remain (default limit 50, at most 500;
// a cursor not made by the server is 400); events are listed oldest first;
// breakers may be addressed by ID or by name in paths; metadata PATCH values
// of null delete keys; deleting a workspace that still has projects is 409;
// notification channel tests are accepted but nothing is delivered.
//
// # Local extensions
//
// A few endpoints exist only on the local server, not in the hosted API;
// every response of theirs carries the header Tripswitch-Local-Extension: 1
// ([ExtensionHeader]). They take the admin key, so that tests in any
// language can drive breakers:
//
//   - POST …/breakers/{breaker_id}/state:force with
//     {"state": "open"|"closed"|"half_open", "allow_rate": 0..1} (allow_rate
//     for half_open only) forces the state and holds it, whatever the
//     samples say, until state:release; the change is an event and is pushed
//     to the state streams;
//   - POST …/breakers/{breaker_id}/state:release returns the breaker to
//     evaluation, from its current state, at the next evaluation;
//   - POST …/breakers/{breaker_id}/window:reset drops the breaker's samples.
//
// Each answers with the breaker's state and "held". From Go,
// [Server.HoldState], [Server.ReleaseState] and [Server.ResetWindow] do the
// same; [Server.ForceState] forces a state without holding it. A hold is not
// persisted in DataFile.
//
// The web console is served at "/" on the same address: a page that shows
// every breaker of a project live (state, condition, the current aggregate
// beside its threshold, linked routers), a chart of each aggregate against
// its threshold, samples per second per router and metric, the timeline of
// transitions with their reasons, and buttons for the endpoints above. It is
// embedded in the binary and needs no network. The page asks for the admin
// key once and keeps it in the tab's session storage; it sends it only in
// Authorization headers. Its live data come from GET
// /console/api/projects/{project_id}/live (admin key), a server-sent event
// stream of a snapshot, each state change as it happens, new events, and
// aggregates and rates once a second.
//
// # Limits
//
// Bad input never crashes the server nor costs memory without bound. The
// defaults below are those of a zero [Config]; each names its field.
//
//   - request bodies must arrive within BodyReadTimeout (30s) of the start
//     of their handler; a slower client gets 408 and its connection is
//     closed;
//   - ingest bodies are read before their signature can be checked: at
//     most MaxPendingBodies (64) at once, reserving at most
//     MaxPendingBodyBytes (32 MiB) in all, each its Content-Length (5 MiB
//     when it sends none); a request that finds no room gets 503
//     server_busy with Retry-After: 1 at once, without its body being read;
//   - ingest bodies: 5 MiB as sent, 50 MiB decompressed (413 beyond);
//     bad gzip or JSON is 400; unknown fields are ignored;
//   - samples whose ts_ms lies more than SampleWindow (5 minutes) from the
//     server's clock are refused: the 202 response counts them,
//     {"accepted": n, "rejected": m}, and the rest of the batch is
//     accepted; samples stamped ahead of the clock are evaluated as
//     arriving now, so no sample keeps a breaker open past its window;
//   - samples: router_id and metric required, each at most 128 characters;
//     trace_id at most 128; at most 32 tags per sample, keys at most 128 and
//     values at most 256 characters (400 naming the field, for the batch);
//   - management API bodies: 1 MiB (413 beyond);
//   - names (workspace, project, breaker, router, channel, key): 1 to 128
//     characters; metric 128; router description 1024; workspace slug 64;
//     metadata at most 64 entries, keys 128 and values 1024 characters;
//     breaker actions 64 KiB; channel config 16 KiB (422 naming the field);
//   - history: the most recent 10,000 events per project; for
//     [Server.Samples], the most recent SampleLimit (100,000) samples per
//     project, holding at most SampleBytes (64 MiB) by an estimate that
//     errs high, the oldest forgotten first; 10,000 idempotency records per
//     credential.
//
// # Persistence
//
// With DataFile set, the whole state except samples (organisation, keys,
// workspaces, projects, routers, breakers with their state, channels and
// events) is written as JSON by [Server.Start] before it returns (so the
// credentials it makes available survive a crash), PersistDelay (one
// second) after each change, and on Shutdown: to a temporary file that is
// synced and renamed over DataFile, so that the file always holds a
// complete document. A process killed without Shutdown loses the changes of
// at most the last PersistDelay; with SyncWrites, every management API
// change is written before it is answered. When DataFile is a symbolic
// link, the file it points to is replaced and the link kept. The file holds
// credentials and is created with mode 0600. A corrupt file is reported by
// [New] and left untouched.
package localserver
