package main

// usageHead and usageTail surround the flag list printed by -h.
const usageHead = `Usage: tripswitch-local [flags]

Runs a local Tripswitch server: state streams, signed ingest, metadata,
status and the management API, with real breaker evaluation. At start it
creates (or, with -data, loads) an organisation with an admin key, a
workspace, and a project with a project key and an ingest secret, and
prints them.

Flags:
`

const usageTail = `
Environment (a flag on the command line wins; the first variable set is used):

  TRIPSWITCH_LOCAL_ADDR                                    -addr
  TRIPSWITCH_LOCAL_CONFIG                                  -config
  TRIPSWITCH_LOCAL_DATA                                    -data
  TRIPSWITCH_LOCAL_ENV_FILE                                -env-file
  TRIPSWITCH_LOCAL_SYNC_WRITES (true or false)             -sync-writes
  TRIPSWITCH_LOCAL_LOG_LEVEL                               -log-level
  TRIPSWITCH_LOCAL_ADMIN_KEY, TRIPSWITCH_ADMIN_KEY         -admin-key
  TRIPSWITCH_LOCAL_WORKSPACE_ID, TRIPSWITCH_WORKSPACE_ID   -workspace-id
  TRIPSWITCH_LOCAL_PROJECT_ID, TRIPSWITCH_PROJECT_ID       -project-id
  TRIPSWITCH_LOCAL_PROJECT_KEY, TRIPSWITCH_API_KEY         -project-key
  TRIPSWITCH_LOCAL_INGEST_SECRET, TRIPSWITCH_INGEST_SECRET -ingest-secret

The TRIPSWITCH_… names are those that -print-env and -env-file write, so a
restart in a shell that sourced them keeps the same IDs and credentials.
TRIPSWITCH_API_KEY is read only when it holds a project key (eb_pk_…): a
shell set up for admin work (TRIPSWITCH_API_KEY=eb_admin_…) is ignored.
TRIPSWITCH_BASE_URL is not read; use -addr.

The -config file is JSON: routers, then breakers linked to them by ID.
Unknown fields are errors. It is applied at every start: routers (by ID,
else name) and breakers (by name) that exist are updated, not duplicated.

  {"routers":  [{"id": "rtr_checkout", "name": "checkout", "mode": "static",
                 "metadata": {"team": "payments"}}],
   "breakers": [{"name": "checkout-errors", "metric": "requests",
                 "kind": "error_rate", "op": "gt", "threshold": 0.5,
                 "window_ms": 10000, "min_count": 10, "cooldown_ms": 5000,
                 "router_ids": ["rtr_checkout"]}]}

  router fields:  id, name, mode (static, canary, weighted), metadata
  breaker fields: id, name, metric, kind, kind_params, op, threshold,
                  window_ms, min_count, min_state_duration_ms, cooldown_ms,
                  eval_interval_ms, half_open_confirmation_ms,
                  half_open_backoff_enabled, half_open_backoff_cap_ms,
                  half_open_indeterminate_policy, recovery_window_ms,
                  recovery_allow_rate_ramp_steps, actions, metadata, router_ids
  kind: error_rate, avg, p95, max, min, sum, stddev, count, percentile,
        consecutive_failures, delta;  op: gt, lt, gte, lte

Limits (defaults of the localserver package):

  - a request body must arrive within 30s of its headers; a slower client
    gets 408 and its connection is closed;
  - at most 64 ingest bodies, reserving at most 32 MiB (their
    Content-Length, or 5 MiB without one), are read at once before their
    signature is checked; further requests get 503 with Retry-After: 1;
  - samples whose ts_ms is more than 5 minutes from the server's clock are
    refused and counted as "rejected" in the ingest response; samples
    stamped ahead of the clock are evaluated as arriving now;
  - each project keeps its most recent 100,000 samples, at most 64 MiB of
    them, for inspection (oldest forgotten first).

Persistence: with -data, the state is written before the credentials are
printed (and before -env-file appears), about 1s after each change, and at
shutdown. A server killed without a chance to shut down (kill -9, a crash)
loses the changes of at most the last second; with -sync-writes every
management API change is written before it is answered.

SIGINT or SIGTERM closes the state streams, stops the server and writes the
-data file. Logs go to standard error.
`
