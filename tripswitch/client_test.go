package tripswitch_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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

func TestStateSyncAndCallbacksInOrder(t *testing.T) {
	f := newFakeServer(t)
	var mu sync.Mutex
	var got []string
	c := newTestClient(t, f, tripswitch.WithStateChangeCallback(func(name string, from, to tripswitch.State) {
		mu.Lock()
		got = append(got, name+":"+from.String()+">"+to.String())
		mu.Unlock()
	}))
	st, ok := c.State("checkout")
	if !ok || st.State != tripswitch.StateClosed || st.AllowRate != 1 {
		t.Fatalf("State(checkout) = %+v, %v", st, ok)
	}
	f.send("checkout", "open", 0)
	f.send("checkout", "half_open", 0.25)
	f.send("payments", "open", 0) // first event of a new breaker: no callback
	f.send("checkout", "half_open", 0.5)
	f.send("checkout", "closed", 1)
	want := []string{"checkout:closed>open", "checkout:open>half_open", "checkout:half_open>closed"}
	eventually(t, "callbacks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("callbacks = %v, want %v", got, want)
	}
	states := c.States()
	if len(states) != 2 || states["payments"].State != tripswitch.StateOpen {
		t.Fatalf("States() = %+v", states)
	}
	if s := c.Stats(); !s.StreamConnected || s.CachedBreakers != 2 || s.LastStreamEvent.IsZero() {
		t.Fatalf("Stats() = %+v", s)
	}
}

func TestCallbackPanicDoesNotStopDelivery(t *testing.T) {
	f := newFakeServer(t)
	calls := make(chan string, 4)
	c := newTestClient(t, f, tripswitch.WithStateChangeCallback(func(name string, from, to tripswitch.State) {
		calls <- to.String()
		panic("boom")
	}))
	f.send("checkout", "open", 0)
	f.send("checkout", "closed", 1)
	for _, want := range []string{"open", "closed"} {
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("callback got %s, want %s", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("callback not called")
		}
	}
	if _, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("checkout")); err != nil {
		t.Fatalf("Execute after panicking callback: %v", err)
	}
}

func TestNullAllowRateOnHalfOpenIsZero(t *testing.T) {
	f := newFakeServer(t)
	var logs bytes.Buffer
	var lmu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &lmu}, nil))
	c := newTestClient(t, f, tripswitch.WithLogger(logger))
	f.send("checkout", "half_open", nil)
	eventually(t, "half-open state", func() bool {
		st, _ := c.State("checkout")
		return st.State == tripswitch.StateHalfOpen
	})
	st, _ := c.State("checkout")
	if st.AllowRate != 0 {
		t.Fatalf("allow rate = %v, want 0", st.AllowRate)
	}
	_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("checkout"))
	var be *tripswitch.BreakerError
	if !errors.As(err, &be) || be.Reason != tripswitch.ReasonThrottled {
		t.Fatalf("Execute err = %v, want throttled", err)
	}
	lmu.Lock()
	defer lmu.Unlock()
	if !strings.Contains(logs.String(), "allow_rate") || !strings.Contains(logs.String(), "WARN") {
		t.Fatalf("no warning logged: %s", logs.String())
	}
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

func TestMalformedEventsAreIgnored(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	f.sendRaw("data: not json\n\n")
	f.sendRaw("data: {\"breaker\":\"x\",\"state\":\"sideways\"}\n\n")
	f.sendRaw(": ping\n\n")
	f.sendRaw("event: state\nid: 7\ndata: {\"breaker\":\"checkout\",\n data: \"state\":\"open\"}\n\n") // multi-line data
	f.sendRaw("event: state\r\ndata: {\"breaker\":\"crlf\",\"state\":\"open\",\"allow_rate\":0}\r\n\r\n")
	eventually(t, "valid events after malformed ones", func() bool {
		st, _ := c.State("crlf")
		return st.State == tripswitch.StateOpen
	})
	if _, ok := c.State("x"); ok {
		t.Fatal("event with unknown state was applied")
	}
	if s := c.Stats(); !s.StreamConnected || s.StreamReconnects != 0 {
		t.Fatalf("malformed events disturbed the stream: %+v", s)
	}
}

func TestTornStreamReconnectsAndResyncs(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	f.mu.Lock()
	f.snapshot = []string{`{"breaker":"checkout","state":"open","allow_rate":0}`}
	f.mu.Unlock()
	f.dropStreams()
	eventually(t, "resync after reconnect", func() bool {
		st, _ := c.State("checkout")
		return st.State == tripswitch.StateOpen
	})
	if s := c.Stats(); s.StreamReconnects < 1 {
		t.Fatalf("reconnects = %d", s.StreamReconnects)
	}
}

func TestSilentStreamIsReplaced(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithStreamIdleTimeout(150*time.Millisecond))
	first := f.connections()
	// The server keeps the connection open but sends nothing more.
	eventually(t, "a new connection after the idle timeout", func() bool { return f.connections() > first })
	if s := c.Stats(); s.StreamReconnects < 1 {
		t.Fatalf("reconnects = %d", s.StreamReconnects)
	}
}

func TestKeepAliveCommentsKeepTheStream(t *testing.T) {
	f := newFakeServer(t)
	newTestClient(t, f, tripswitch.WithStreamIdleTimeout(time.Second))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				f.sendRaw(": ping\n\n")
			}
		}
	}()
	time.Sleep(2500 * time.Millisecond) // well past the idle timeout
	close(stop)
	wg.Wait()
	if n := f.connections(); n != 1 {
		t.Fatalf("connections = %d, want 1: pings did not keep the stream alive", n)
	}
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
