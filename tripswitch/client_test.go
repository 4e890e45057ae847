package tripswitch_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// newTestClient connects a client to f with a snapshot of one closed
// breaker, unless the caller set another snapshot.
func newTestClient(t *testing.T, f *fakeServer, opts ...tripswitch.Option) *tripswitch.Client {
	t.Helper()
	f.mu.Lock()
	if f.snapshot == nil {
		f.snapshot = []string{`{"breaker":"checkout","state":"closed","allow_rate":1}`}
	}
	f.mu.Unlock()
	base := []tripswitch.Option{
		tripswitch.WithBaseURL(f.url()),
		tripswitch.WithProjectKey(testKey),
		tripswitch.WithIngestSecret(testSecret),
		tripswitch.WithMetadataSyncInterval(0),
		tripswitch.WithReconnectBackoff(5 * time.Millisecond),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tripswitch.NewClient(ctx, "proj_test", append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { closeClient(t, c) })
	return c
}

func closeClient(t *testing.T, c *tripswitch.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

func checkIdentity(t *testing.T, s tripswitch.Stats) {
	t.Helper()
	if s.Produced != s.Delivered+s.Dropped+uint64(s.Buffered) {
		t.Fatalf("produced %d != delivered %d + dropped %d + buffered %d", s.Produced, s.Delivered, s.Dropped, s.Buffered)
	}
}

func TestNewClientRejectsBadConfiguration(t *testing.T) {
	tests := []struct {
		name      string
		projectID string
		opts      []tripswitch.Option
		want      string // substring of the error
	}{
		{"empty project", "", nil, "empty project ID"},
		{"bad base URL", "proj_1", []tripswitch.Option{tripswitch.WithBaseURL("::not a url")}, "WithBaseURL"},
		{"relative base URL", "proj_1", []tripswitch.Option{tripswitch.WithBaseURL("/v1")}, "WithBaseURL"},
		{"short secret", "proj_1", []tripswitch.Option{tripswitch.WithIngestSecret("ik_abc")}, "WithIngestSecret"},
		{"non-hex secret", "proj_1", []tripswitch.Option{tripswitch.WithIngestSecret(strings.Repeat("z", 64))}, "64 hexadecimal"},
		{"zero batch", "proj_1", []tripswitch.Option{tripswitch.WithBatchSize(0)}, "WithBatchSize"},
		{"zero buffer", "proj_1", []tripswitch.Option{tripswitch.WithBufferCapacity(-1)}, "WithBufferCapacity"},
		{"fail-closed without key", "proj_1", []tripswitch.Option{tripswitch.WithFailOpen(false)}, "WithFailOpen"},
		{"key over plain http", "proj_1", []tripswitch.Option{tripswitch.WithBaseURL("http://tripswitch.example.com"), tripswitch.WithProjectKey("eb_pk_secretvalue")}, "plain http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tripswitch.NewClient(context.Background(), tt.projectID, tt.opts...)
			if err == nil {
				closeClient(t, c)
				t.Fatal("NewClient succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
			if !errors.Is(err, tripswitch.ErrInvalidOption) {
				t.Fatalf("error %v is not ErrInvalidOption", err)
			}
			for _, secret := range []string{"eb_pk_secretvalue", "zzzzzzzz"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q leaks a secret", err)
				}
			}
		})
	}
}

func TestNewClientFailsFastOnRefusedKey(t *testing.T) {
	f := newFakeServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := tripswitch.NewClient(ctx, "proj_test",
		tripswitch.WithBaseURL(f.url()),
		tripswitch.WithProjectKey("eb_pk_wrong_key_123"),
	)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a 401 error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("NewClient waited for the deadline instead of failing on 401")
	}
	if strings.Contains(err.Error(), "eb_pk_wrong_key_123") {
		t.Fatalf("error leaks the key: %v", err)
	}
}

func TestNewClientHonoursContext(t *testing.T) {
	f := newFakeServer(t)
	f.silent = true
	f.metaBody["breakers"] = `{"breakers":[{"id":"brk_1","name":"checkout"}]}` // so silence is not an empty project
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := tripswitch.NewClient(ctx, "proj_test", tripswitch.WithBaseURL(f.url()), tripswitch.WithProjectKey(testKey))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("err = %v, want ErrNotSynced and DeadlineExceeded", err)
	}
	if c == nil {
		t.Fatal("no client returned with ErrNotSynced")
	}
	closeClient(t, c)
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestFailClosed(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithFailOpen(false), tripswitch.WithStateGracePeriod(100*time.Millisecond))
	run := func() error {
		_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("checkout"))
		return err
	}
	if err := run(); err != nil {
		t.Fatalf("synced client rejected: %v", err)
	}
	// The server stops answering the stream; after the grace period calls
	// are rejected as unavailable.
	f.mu.Lock()
	f.streamCode = http.StatusServiceUnavailable
	f.mu.Unlock()
	f.dropStreams()
	eventually(t, "unavailable rejection", func() bool {
		var be *tripswitch.BreakerError
		return errors.As(run(), &be) && be.Reason == tripswitch.ReasonUnavailable
	})
	if err := run(); !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("unavailable error %v does not match ErrOpen", err)
	}
	// The stream comes back: calls are allowed again after resync.
	f.mu.Lock()
	f.streamCode = 0
	f.mu.Unlock()
	eventually(t, "allowed after resync", func() bool { return run() == nil })
}

func TestFailOpenRunsWithoutState(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{`{"breaker":"checkout","state":"open","allow_rate":0}`}
	c := newTestClient(t, f, tripswitch.WithStateGracePeriod(50*time.Millisecond))
	_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("checkout"))
	if !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("open breaker did not reject: %v", err)
	}
	f.mu.Lock()
	f.streamCode = http.StatusBadGateway
	f.mu.Unlock()
	f.dropStreams()
	eventually(t, "fail-open after the grace period", func() bool {
		_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("checkout"))
		return err == nil
	})
}

func TestStatus(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.OpenCount != 1 || st.ClosedCount != 4 || st.LastEval.UnixMilli() != 1764201600123 {
		t.Fatalf("Status = %+v", st)
	}
}
