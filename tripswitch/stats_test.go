package tripswitch_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestBufferedBoundedUnder256Goroutines reports from 256 goroutines while
// the server holds every batch: Buffered never exceeds the capacity by
// more than one batch per request in flight, and the identity holds
// throughout.
func TestBufferedBoundedUnder256Goroutines(t *testing.T) {
	const capacity, batch = 10_000, 500
	f := newFakeServer(t)
	f.ingestHang = make(chan struct{})
	c := newTestClient(t, f, tripswitch.WithBufferCapacity(capacity), tripswitch.WithBatchSize(batch),
		tripswitch.WithFlushInterval(10*time.Millisecond))
	var maxBuffered atomic.Int64
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := c.Stats()
			if s.Produced != s.Delivered+s.Dropped+uint64(s.Buffered) {
				t.Errorf("identity broken: %+v", s)
				return
			}
			if b := int64(s.Buffered); b > maxBuffered.Load() {
				maxBuffered.Store(b)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(g*10_000 + i), OK: true})
			}
		}()
	}
	wg.Wait()
	close(stop)
	watcher.Wait()
	s := c.Stats()
	checkIdentity(t, s)
	t.Logf("256 goroutines: Buffered at most %d (capacity %d, batch %d)", maxBuffered.Load(), capacity, batch)
	if m := maxBuffered.Load(); m > capacity+tripswitch.DefaultMaxInFlightBatches*batch {
		t.Fatalf("Buffered reached %d, capacity %d + %d batches of %d in flight", m, capacity, tripswitch.DefaultMaxInFlightBatches, batch)
	}
	if s.Produced != 256*2000 {
		t.Fatalf("stats %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = c.Close(ctx)
}
