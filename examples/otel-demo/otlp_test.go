package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// TestUnreachableOTLPOnlyWarns runs the program with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a port where nothing listens:
// the story still passes and the exit status is 0, with a warning on
// stderr and a line in the summary.
func TestUnreachableOTLPOnlyWarns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	getenv := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return endpoint
		}
		return ""
	}

	var stdout, stderr bytes.Buffer
	status := mainStatus(context.Background(), []string{"-duration", "15s", "-rps", "40", "-metrics-addr", ""}, getenv, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	out := stdout.String()
	if !strings.Contains(out, "result           PASS") {
		t.Fatalf("the story did not pass; see the output")
	}
	if status != 0 {
		t.Errorf("exit status %d with result PASS and an unreachable OTLP endpoint, want 0", status)
	}
	if n := strings.Count(stderr.String(), "warning: OTLP export failed"); n != 1 {
		t.Errorf("%d OTLP warnings on stderr, want exactly 1", n)
	}
	if !strings.Contains(out, "  otlp             ") || !strings.Contains(out, "exports failed") {
		t.Errorf("the summary does not report the failed exports")
	}
	if !strings.Contains(out, "buffered 0") {
		t.Errorf("samples were left buffered: the OTLP failures must not cut the client's flush short")
	}
}
