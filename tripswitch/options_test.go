package tripswitch_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestDefaultLoggerWarns: without WithLogger, warnings reach
// slog.Default() (and lesser records do not); a discarding logger
// silences the client.
func TestDefaultLoggerWarns(t *testing.T) {
	var out syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)

	f := newFakeServer(t)
	f.ingestCodes = []int{403}
	c := newTestClient(t, f, tripswitch.WithFlushInterval(time.Hour))
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1})
	if err := c.Flush(context.Background()); err == nil {
		t.Fatal("Flush = nil for a refused batch")
	}
	got := out.String()
	if !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "status=403") {
		t.Fatalf("slog.Default() got %q, want the refusal", got)
	}
	if strings.Contains(got, "level=INFO") || strings.Contains(got, "level=DEBUG") {
		t.Fatalf("records below WARN reached slog.Default(): %q", got)
	}

	quiet := &syncBuffer{}
	slog.SetDefault(slog.New(slog.NewTextHandler(quiet, nil)))
	f2 := newFakeServer(t)
	f2.ingestCodes = []int{403}
	c2 := newTestClient(t, f2, tripswitch.WithFlushInterval(time.Hour), tripswitch.WithLogger(slog.New(slog.DiscardHandler)))
	_ = c2.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1})
	_ = c2.Flush(context.Background())
	if s := quiet.String(); s != "" {
		t.Fatalf("a discarding logger let through %q", s)
	}
}
