package tripswitch_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// returnsWithin runs close and fails the test unless it returns within
// limit. The limit is many times the deadline given to Close: it only
// tells "returned by the deadline" from "did not return at all".
func returnsWithin(t *testing.T, limit time.Duration, close func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("Close did not return within %v", limit)
		return nil
	}
}

// TestCloseWithBlockedFlushHook: a Flush hook that never returns does not
// hold Close past its deadline, and Close says what is still running.
func TestCloseWithBlockedFlushHook(t *testing.T) {
	f := newFakeServer(t)
	block := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	c := newTestClient(t, f, tripswitch.WithFlushInterval(10*time.Millisecond), tripswitch.WithHooks(tripswitch.Hooks{Flush: func(tripswitch.FlushResult) {
		once.Do(func() { close(entered) })
		<-block
	}}))
	defer close(block) // lets the flusher end before goleak looks
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	<-entered // the flusher is stuck in the hook
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 2, OK: true})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := returnsWithin(t, 20*time.Second, func() error { return c.Close(ctx) })
	if err == nil || !strings.Contains(err.Error(), "Flush hook is still running") || !strings.Contains(err.Error(), "1 samples not delivered") {
		t.Fatalf("Close = %v, want it to name the running Flush hook and the undelivered sample", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Delivered != 1 || s.Dropped != 1 || s.Buffered != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestSecondCloseHonoursItsDeadline: while a first Close waits for a
// server that never answers, a second Close with a shorter deadline
// returns by its own deadline.
func TestSecondCloseHonoursItsDeadline(t *testing.T) {
	f := newFakeServer(t)
	f.ingestHang = make(chan struct{})
	c := newTestClient(t, f)
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	ctx1, cancel1 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel1()
	first := make(chan error, 1)
	go func() { first <- c.Close(ctx1) }()
	eventually(t, "the first Close sending", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.arrivals > 0
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	err := returnsWithin(t, 20*time.Second, func() error { return c.Close(ctx2) })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "first Close is still running") {
		t.Fatalf("second Close = %v", err)
	}
	cancel1() // the first Close gives up now
	if err := <-first; err == nil {
		t.Fatal("first Close claimed delivery through a server that never answers")
	}
	// Once the first has returned, later calls return its result at once.
	if err := c.Close(context.Background()); err == nil {
		t.Fatal("third Close = nil")
	}
}

// TestCloseReportsRunningCallbackOnlyWhenOneRuns: Close spends its whole
// deadline on a server that never answers; with no hook running, its
// error must not claim one is.
func TestCloseReportsRunningCallbackOnlyWhenOneRuns(t *testing.T) {
	for range 3 {
		f := newFakeServer(t)
		f.ingestHang = make(chan struct{})
		c := newTestClient(t, f, tripswitch.WithStateChangeCallback(func(string, tripswitch.State, tripswitch.State) {}))
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Close(ctx)
		cancel()
		if err == nil || strings.Contains(err.Error(), "still running") {
			t.Fatalf("Close = %v, want the undelivered sample and no running callback", err)
		}
	}
}

// TestCloseWithBlockedStateChangeHook: a StateChange hook that never
// returns does not hold Close past its deadline either.
func TestCloseWithBlockedStateChangeHook(t *testing.T) {
	f := newFakeServer(t)
	block := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	c := newTestClient(t, f, tripswitch.WithStateChangeCallback(func(string, tripswitch.State, tripswitch.State) {
		once.Do(func() { close(entered) })
		<-block
	}))
	defer close(block)
	f.send("checkout", "open", 0)
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := returnsWithin(t, 20*time.Second, func() error { return c.Close(ctx) })
	if err == nil || !strings.Contains(err.Error(), "StateChange hook is still running") {
		t.Fatalf("Close = %v", err)
	}
}

// TestCloseDeadlineWithBatchesInFlight fills every request slot with a
// server that does not answer: Close returns by its deadline, cancels the
// requests in flight, and counts exactly what was not delivered as
// dropped.
func TestCloseDeadlineWithBatchesInFlight(t *testing.T) {
	const batch, produced = 50, 400
	for _, tc := range []struct {
		name      string
		slow      bool // answers one request, then holds the rest; else answers none
		delivered uint64
	}{
		{name: "black hole"},
		{name: "slow server", slow: true, delivered: batch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			c := newTestClient(t, f, tripswitch.WithBatchSize(batch), tripswitch.WithBufferCapacity(1000), tripswitch.WithFlushInterval(time.Hour))
			f.mu.Lock()
			if tc.slow {
				f.ingestGate = make(chan struct{})
			} else {
				f.ingestHang = make(chan struct{})
			}
			f.mu.Unlock()
			for i := range produced {
				_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(i), OK: true})
			}
			eventually(t, "every request slot in flight", func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.arrivals == tripswitch.DefaultMaxInFlightBatches
			})
			if tc.slow {
				f.ingestGate <- struct{}{} // one batch is accepted
				eventually(t, "one batch delivered", func() bool { return c.Stats().Delivered == batch })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := returnsWithin(t, 20*time.Second, func() error { return c.Close(ctx) })
			dropped := produced - tc.delivered
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d samples not delivered", dropped)) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Close = %v, want %d samples not delivered at the deadline", err, dropped)
			}
			s := c.Stats()
			checkIdentity(t, s)
			if s.Delivered != tc.delivered || s.Dropped != dropped || s.Buffered != 0 {
				t.Fatalf("stats %+v, want %d delivered and %d dropped", s, tc.delivered, dropped)
			}
		})
	}
}

// TestCloseReturnsByDeadline runs Close against a server that accepts
// ingest connections and never answers.
func TestCloseReturnsByDeadline(t *testing.T) {
	f := newFakeServer(t)
	f.ingestHang = make(chan struct{})
	c := newTestClient(t, f)
	for range 10 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	if ctx.Err() == nil {
		// Close returned before its deadline: only possible if it
		// delivered, which the server never lets happen.
		t.Fatalf("Close returned early: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "10 samples") {
		t.Fatalf("Close error = %v, want it to count the undelivered samples", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Dropped != 10 {
		t.Fatalf("stats %+v", s)
	}
	// Idempotent, and the client keeps answering.
	if err2 := c.Close(context.Background()); err2 != err {
		t.Fatalf("second Close = %v", err2)
	}
	if err := c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1}); !errors.Is(err, tripswitch.ErrClosed) {
		t.Fatalf("Report after Close = %v", err)
	}
	if s := c.Stats(); s.Dropped != 11 {
		t.Fatalf("sample after Close not counted as dropped: %+v", s)
	}
}

// TestCloseAgainstBlackHole uses a listener that accepts and never reads or
// answers: the stream never syncs and ingest never completes.
func TestCloseAgainstBlackHole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	defer func() {
		ln.Close()
		<-acceptDone
		for _, c := range conns {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	bc, err := tripswitch.NewClient(ctx, "proj_test", tripswitch.WithBaseURL("http://"+ln.Addr().String()), tripswitch.WithProjectKey(testKey))
	if !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("NewClient with a black hole: err = %v, want ErrNotSynced", err)
	}
	closeClient(t, bc)
	// Without a key the client starts at once; calls run (fail-open)
	// while the server swallows the samples.
	c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL("http://"+ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil },
			tripswitch.WithBreakers("checkout"), tripswitch.WithRouter("r"), tripswitch.WithMetric("latency", tripswitch.Latency)); err != nil {
			t.Fatal(err)
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer ccancel()
	if err := c.Close(cctx); err == nil {
		t.Fatal("Close reported success against a black hole")
	}
	checkIdentity(t, c.Stats())
}

// TestFlushDuringCloseReturns: a Flush waiting for a server that does not
// answer returns ErrClosed once Close gives up at its deadline.
func TestFlushDuringCloseReturns(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithFlushInterval(time.Hour))
	f.mu.Lock()
	f.ingestHang = make(chan struct{})
	f.mu.Unlock()
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(context.Background()) }()
	eventually(t, "the batch in flight", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.arrivals == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = returnsWithin(t, 20*time.Second, func() error { return c.Close(ctx) })
	err := returnsWithin(t, 20*time.Second, func() error { return <-flushed })
	if !errors.Is(err, tripswitch.ErrClosed) {
		t.Fatalf("Flush = %v, want ErrClosed", err)
	}
}
