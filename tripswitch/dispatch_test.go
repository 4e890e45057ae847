package tripswitch

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
)

// TestDispatcherBoundedUnderBlockedCallback flaps breakers while the
// callback is blocked: the queue stays bounded, merged changes are
// counted, and once the callback returns it learns every breaker's latest
// state in order.
func TestDispatcherBoundedUnderBlockedCallback(t *testing.T) {
	const breakers, flaps = 10, 100_000
	block := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var got []stateChange
	c := &Client{logger: slog.New(slog.DiscardHandler)}
	c.onState = []func(string, State, State){func(name string, from, to State) {
		once.Do(func() { close(entered) })
		<-block
		mu.Lock()
		got = append(got, stateChange{name, from, to})
		mu.Unlock()
	}}
	d := newDispatcher(c)
	d.worker = startWorker(d.run)

	state := make([]State, breakers) // the latest state of each breaker
	d.enqueue(stateChange{"b0", StateClosed, StateOpen})
	state[0] = StateOpen
	<-entered // the callback is now blocked on the first change
	for i := range flaps {
		b := i % breakers
		next := StateOpen
		if state[b] == StateOpen {
			next = StateClosed
		}
		d.enqueue(stateChange{fmt.Sprint("b", b), state[b], next})
		state[b] = next
	}
	d.mu.Lock()
	queued := len(d.queue)
	d.mu.Unlock()
	if queued > maxQueuedChanges+breakers {
		t.Fatalf("%d changes queued behind a blocked callback, want at most %d", queued, maxQueuedChanges+breakers)
	}
	if n := d.coalesced.Load(); n != uint64(flaps-queued) {
		t.Fatalf("coalesced %d, want %d (%d queued)", n, flaps-queued, queued)
	}
	close(block)
	d.stop()
	<-d.done

	// Replaying the delivered changes gives every breaker's latest state,
	// and each change starts where the previous one of its breaker ended.
	last := map[string]State{"b0": StateClosed}
	for b := 1; b < breakers; b++ {
		last[fmt.Sprint("b", b)] = StateClosed
	}
	for _, ch := range got {
		if ch.from != last[ch.name] || ch.from == ch.to {
			t.Fatalf("change %+v after %v", ch, last[ch.name])
		}
		last[ch.name] = ch.to
	}
	for b := range breakers {
		if name := fmt.Sprint("b", b); last[name] != state[b] {
			t.Fatalf("%s ends %v, want %v", name, last[name], state[b])
		}
	}
}
