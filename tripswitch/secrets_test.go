package tripswitch_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestSecretsNeverLeak runs the client through failures (refused key,
// refused signature, unreachable server) with debug logging, and checks
// that no key, secret or signature appears in any log record or error.
func TestSecretsNeverLeak(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	var mu sync.Mutex
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string
	record := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	wrongSecret := strings.Repeat("ab", 32)
	hook := tripswitch.WithHooks(tripswitch.Hooks{Flush: func(r tripswitch.FlushResult) { record(r.Err) }})

	// A refused project key.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := tripswitch.NewClient(ctx, faultProject, tripswitch.WithBaseURL(srv.URL()),
		tripswitch.WithProjectKey("eb_pk_not_the_right_key_42"), tripswitch.WithLogger(logger))
	cancel()
	record(err)

	// A key of the right shape for another project: 403 or 404.
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	_, err = tripswitch.NewClient(ctx, "proj_other", tripswitch.WithBaseURL(srv.URL()),
		tripswitch.WithProjectKey(faultKey), tripswitch.WithLogger(logger))
	cancel()
	record(err)

	// A wrong ingest secret: the server refuses every batch.
	c, err := tripswitch.NewClient(context.Background(), faultProject, tripswitch.WithBaseURL(srv.URL()),
		tripswitch.WithProjectKey(faultKey), tripswitch.WithIngestSecret("ik_"+wrongSecret), tripswitch.WithLogger(logger), hook)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		record(c.Report(context.Background(), tripswitch.Sample{RouterID: "rtr_fault", Metric: "latency", Value: float64(i), OK: true}))
	}
	record(c.Flush(context.Background()))
	record(c.Close(context.Background()))
	if s := c.Stats(); s.Dropped != 3 {
		t.Fatalf("refused batch not dropped: %+v", s)
	}

	// An unreachable server, with the secret and key set.
	c, err = tripswitch.NewClient(context.Background(), faultProject, tripswitch.WithBaseURL("http://127.0.0.1:1/base"),
		tripswitch.WithIngestSecret(faultSecret), tripswitch.WithLogger(logger), hook)
	if err != nil {
		t.Fatal(err)
	}
	record(c.Report(context.Background(), tripswitch.Sample{RouterID: "rtr_fault", Metric: "latency", Value: 1, OK: true}))
	record(c.Flush(context.Background()))
	cctx, ccancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	record(c.Close(cctx))
	ccancel()

	// A secret of the wrong shape.
	_, err = tripswitch.NewClient(context.Background(), faultProject, tripswitch.WithIngestSecret("ik_"+wrongSecret[:40]))
	record(err)

	mu.Lock()
	text := logs.String() + "\n" + strings.Join(errs, "\n")
	mu.Unlock()
	if len(errs) < 5 || !strings.Contains(text, "401") {
		t.Fatalf("the failures did not happen as planned:\n%s", text)
	}
	for _, secret := range []string{
		"eb_pk_not_the_right_key_42", faultKey, faultSecret, wrongSecret, wrongSecret[:40], "v1=", "Bearer"} {
		if strings.Contains(text, secret) {
			t.Errorf("output contains %q:\n%s", secret, text)
		}
	}
}
