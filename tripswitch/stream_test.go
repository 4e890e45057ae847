package tripswitch_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

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
