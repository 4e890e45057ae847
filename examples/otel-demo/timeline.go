package main

import (
	"sync"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// change is one breaker state change seen by the client.
type change struct {
	At       time.Duration // since the start of the load
	Breaker  string
	From, To tripswitch.State
}

// timeline records the breakers' state changes as the client sees them.
// It is fed by the client's StateChange hook and safe for concurrent use.
type timeline struct {
	mu      sync.Mutex
	start   time.Time // zero until the load starts; earlier changes count at 0
	initial map[string]tripswitch.State
	changes []change
}

func newTimeline() *timeline {
	return &timeline{initial: make(map[string]tripswitch.State)}
}

// begin records the states at the start of the load.
func (t *timeline) begin(start time.Time, states map[string]tripswitch.BreakerStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start = start
	for _, name := range breakerNames {
		t.initial[name] = states[name].State // unknown breakers count as closed
	}
	t.changes = t.changes[:0]
}

// observe is the client's StateChange hook.
func (t *timeline) observe(name string, from, to tripswitch.State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.start.IsZero() {
		return
	}
	t.changes = append(t.changes, change{At: time.Since(t.start), Breaker: name, From: from, To: to})
}

// snapshot returns the initial states and the changes so far.
func (t *timeline) snapshot() (map[string]tripswitch.State, []change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	initial := make(map[string]tripswitch.State, len(t.initial))
	for k, v := range t.initial {
		initial[k] = v
	}
	return initial, append([]change(nil), t.changes...)
}

// openDuring replays one breaker's changes and reports whether it was open
// at some moment of [from, to).
func openDuring(initial tripswitch.State, changes []change, breaker string, from, to time.Duration) bool {
	st := initial // the state at from, once the earlier changes are applied
	for _, c := range changes {
		switch {
		case c.Breaker != breaker:
		case c.At >= to:
			return st == tripswitch.StateOpen
		case c.At < from:
			st = c.To
		case c.To == tripswitch.StateOpen:
			return true
		}
	}
	return st == tripswitch.StateOpen
}
