// Command tripswitch-local runs a local Tripswitch server: the whole wire
// contract (state streams, signed ingest, metadata, status and the management
// API) with real breaker evaluation, on one machine and without an account.
//
// Usage:
//
//	tripswitch-local [flags]
//
// At start it creates (or, with -data, loads) an organisation with an admin
// key, a workspace, and a project with a project key and an ingest secret,
// and prints them. With -print-env it prints only shell export lines on
// standard output; with -env-file it also writes them to a file, atomically,
// once the server accepts connections (a stale file is removed at start), so
// that a script can wait for the file and source it:
//
//	tripswitch-local -env-file tripswitch.env &
//	until [ -f tripswitch.env ]; do sleep 0.1; done
//	. ./tripswitch.env
//
// Flags (each has an environment default, shown in brackets; the
// TRIPSWITCH_… names are those that -print-env and -env-file write, so that
// a restart with that environment keeps the same IDs and credentials):
//
//	-addr           listen address (default 127.0.0.1:8787) [TRIPSWITCH_LOCAL_ADDR]
//	-config         JSON file of routers and breakers to create [TRIPSWITCH_LOCAL_CONFIG]
//	-data           JSON file that keeps all state across restarts [TRIPSWITCH_LOCAL_DATA]
//	-env-file       file to write the export lines to [TRIPSWITCH_LOCAL_ENV_FILE]
//	-print-env      print only export lines on standard output
//	-sync-writes    write each management API change to -data before answering [TRIPSWITCH_LOCAL_SYNC_WRITES]
//	-admin-key      fixed admin key, eb_admin_… [TRIPSWITCH_LOCAL_ADMIN_KEY, TRIPSWITCH_ADMIN_KEY]
//	-workspace-id   fixed workspace ID [TRIPSWITCH_LOCAL_WORKSPACE_ID, TRIPSWITCH_WORKSPACE_ID]
//	-project-id     fixed project ID [TRIPSWITCH_LOCAL_PROJECT_ID, TRIPSWITCH_PROJECT_ID]
//	-project-key    fixed project key, eb_pk_… [TRIPSWITCH_LOCAL_PROJECT_KEY, TRIPSWITCH_API_KEY when it holds an eb_pk_ key]
//	-ingest-secret  fixed ingest secret, 64 hex characters [TRIPSWITCH_LOCAL_INGEST_SECRET, TRIPSWITCH_INGEST_SECRET]
//	-log-level      debug, info, warn or error (default info) [TRIPSWITCH_LOCAL_LOG_LEVEL]
//
// The -config file has the shape
//
//	{"routers":  [{"id": "rtr_checkout", "name": "checkout", "mode": "static"}],
//	 "breakers": [{"name": "checkout-errors", "metric": "latency", "kind": "error_rate",
//	               "op": "gt", "threshold": 0.5, "window_ms": 10000, "min_count": 10,
//	               "router_ids": ["rtr_checkout"]}]}
//
// and is applied at every start: existing routers (by ID, else name) and
// breakers (by name) are updated rather than duplicated. tripswitch-local -h
// lists every field, the limits the server enforces and their defaults.
//
// With -data, the state is written before the credentials are printed, about
// a second after each change, and at shutdown: a process killed without
// shutting down loses the changes of at most the last second, or none of the
// acknowledged management API changes with -sync-writes.
//
// Logs go to standard error. SIGINT or SIGTERM closes the state streams,
// stops the server and writes the -data file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tripswitch-local:", err)
		os.Exit(1)
	}
}
