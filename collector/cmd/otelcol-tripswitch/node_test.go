package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNodeClientTripsBreaker sends spans from a Node.js program using
// only the OpenTelemetry JS SDK (installed from the npm registry into a
// temporary directory) to the Collector: nothing Go-specific is needed to
// trip a breaker.
func TestNodeClientTripsBreaker(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the Node.js client test needs node and npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: the Node.js client test needs node and npm")
	}
	dir := t.TempDir()
	for _, name := range []string{"package.json", "spans.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "node", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install: %v\n%s", err, out)
	}

	f := startFleet(t)
	run := exec.CommandContext(ctx, node, "spans.js")
	run.Dir = dir
	run.Env = append(os.Environ(), "OTLP_TRACES_URL=http://"+f.otlpHTTP+"/v1/traces")
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("node spans.js: %v\n%s", err, out)
	}

	f.waitBreaker(t, "payments-p95", "open")
	samples := f.srv.Samples(f.projectID)
	if len(samples) != 40 {
		t.Fatalf("server holds %d samples, want one per selected span (40)", len(samples))
	}
	for _, s := range samples {
		if s.Value < 400 || s.Value >= 440 || s.Tags["service.name"] != "checkout-node" || len(s.TraceID) != 32 {
			t.Fatalf("sample %+v, want latency 400–439 ms from service checkout-node with a trace ID", s)
		}
	}
	f.waitScrape(t, "payments-p95", "open")
}
