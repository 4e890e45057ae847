package main

import (
	"context"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/otelcol"
)

// TestDeployConfigIsValid checks the compose stack's Collector config
// against this distribution's components.
func TestDeployConfigIsValid(t *testing.T) {
	t.Setenv("TRIPSWITCH_BASE_URL", "http://tripswitch:8787")
	t.Setenv("TRIPSWITCH_PROJECT_ID", "proj_compose_demo")
	t.Setenv("TRIPSWITCH_API_KEY", "eb_pk_compose_demo_only")
	t.Setenv("TRIPSWITCH_INGEST_SECRET", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	path, err := filepath.Abs(filepath.Join("..", "..", "..", "deploy", "otel-collector", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	col, err := otelcol.NewCollector(settings("file:" + path))
	if err != nil {
		t.Fatal(err)
	}
	if err := col.DryRun(context.Background()); err != nil {
		t.Fatalf("deploy/otel-collector/config.yaml: %v", err)
	}
}
