package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestListenBusyDefaultPicksAFreePort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	ln, err := listen("metrics-addr", busy.Addr().String(), false)
	if err != nil {
		t.Fatalf("listen on a busy default: %v, want a free port instead", err)
	}
	defer ln.Close()
	if ln.Addr().String() == busy.Addr().String() {
		t.Fatalf("listening on the busy address %s", ln.Addr())
	}
	if !strings.HasPrefix(ln.Addr().String(), "127.0.0.1:") {
		t.Errorf("fallback address %s is not on the same host", ln.Addr())
	}
	if !strings.Contains(ln.note, busy.Addr().String()) || !strings.Contains(ln.note, "-metrics-addr") {
		t.Errorf("note %q does not say which address was busy and which flag chooses it", ln.note)
	}
}

func TestListenBusyGivenIsAUsageError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = listen("metrics-addr", busy.Addr().String(), true)
	var usage usageError
	if !errors.As(err, &usage) {
		t.Fatalf("err = %v, want a usageError", err)
	}
	for _, want := range []string{"-metrics-addr " + busy.Addr().String(), "already in use", "-metrics-addr 127.0.0.1:0", `-metrics-addr ""`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestBusyMetricsPortExitsWithUsage runs the program as a user would, with
// the metrics port taken (by another demo, or the compose stack): it exits
// with status 2 and the flag to use, before starting anything.
func TestBusyMetricsPortExitsWithUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var stdout, stderr bytes.Buffer
	status := mainStatus(context.Background(), []string{"-metrics-addr", busy.Addr().String()}, func(string) string { return "" }, &stdout, &stderr)
	if status != 2 {
		t.Errorf("exit status %d, want 2", status)
	}
	if !strings.Contains(stderr.String(), "-metrics-addr") || !strings.Contains(stderr.String(), "already in use") {
		t.Errorf("stderr %q does not name the flag and the problem", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("the demo started before failing; stdout:\n%s", stdout.String())
	}
}
