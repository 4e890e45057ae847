package tripswitch_test

import (
	"context"
	"errors"
	"fmt"
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

// TestNewClientRefusesInvalidOptions: options the client could never use
// are refused by NewClient, naming the option and what is wrong.
func TestNewClientRefusesInvalidOptions(t *testing.T) {
	many := map[string]string{}
	for i := range 33 {
		many[fmt.Sprint("k", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		opt  tripswitch.Option
		want string
	}{
		{"more than 32 global tags", tripswitch.WithGlobalTags(many), "WithGlobalTags: 33 tags; the limit is 32"},
		{"long global tag value", tripswitch.WithGlobalTags(map[string]string{"k": strings.Repeat("v", 257)}), "WithGlobalTags: tag \"k\" has a value of 257 characters"},
		{"empty global tag key", tripswitch.WithGlobalTags(map[string]string{"": "v"}), "WithGlobalTags: a tag key is empty"},
		{"no batch in flight", tripswitch.WithMaxInFlightBatches(0), "WithMaxInFlightBatches: must be between 1 and 64, got 0"},
		{"too many batches in flight", tripswitch.WithMaxInFlightBatches(65), "WithMaxInFlightBatches: must be between 1 and 64, got 65"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL("http://127.0.0.1:1"), tc.opt)
			if c != nil || !errors.Is(err, tripswitch.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewClient = %v, %v; want ErrInvalidOption with %q", c, err, tc.want)
			}
		})
	}
}

// TestLoopbackBaseURLInAnyCase: a project key may go over plain http to
// a loopback host however its name is spelled.
func TestLoopbackBaseURLInAnyCase(t *testing.T) {
	for _, base := range []string{"http://LOCALHOST:1", "http://Api.LocalHost:1"} {
		c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL(base),
			tripswitch.WithProjectKey("eb_pk_test"), tripswitch.WithStartupTimeout(0))
		if errors.Is(err, tripswitch.ErrInvalidOption) {
			t.Fatalf("%s: %v", base, err)
		}
		if c != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = c.Close(ctx)
			cancel()
		}
	}
}
