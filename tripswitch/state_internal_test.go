package tripswitch

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStateCacheNeverLosesACell: while the stream adds breakers (and the
// cache republishes its map), a breaker already applied is always found.
func TestStateCacheNeverLosesACell(t *testing.T) {
	const n = 20_000
	s := newStateCache(MaxBreakers)
	names := make([]string, n)
	for i := range names {
		names[i] = "b-" + strconv.Itoa(i)
	}
	var applied atomic.Int64
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; ; i++ {
				done := applied.Load()
				if done == n {
					return
				}
				if done == 0 {
					continue
				}
				j := int64(i) % done
				if s.lookup(names[j]) == nil {
					t.Errorf("breaker %s applied but not found", names[j])
					return
				}
			}
		}()
	}
	now := time.Now()
	for i, name := range names {
		if _, _, added := s.apply(name, StateOpen, 0, now); !added {
			t.Fatal("not added")
		}
		applied.Store(int64(i + 1))
	}
	wg.Wait()
	for _, name := range names {
		if c := s.lookup(name); c == nil || c.cur.Load().state != StateOpen {
			t.Fatalf("breaker %s lost", name)
		}
	}
	if got := s.known(); got != n {
		t.Fatalf("known() = %d, want %d", got, n)
	}
}
