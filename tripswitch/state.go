package tripswitch

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// State is a breaker's state. The zero value is StateClosed: a breaker the
// client has never heard of is treated as closed.
type State uint8

// The breaker states.
const (
	StateClosed State = iota
	StateOpen
	StateHalfOpen
)

// String returns the wire name of s: "closed", "open" or "half_open".
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half_open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText encodes s as its wire name.
func (s State) MarshalText() ([]byte, error) {
	switch s {
	case StateClosed, StateOpen, StateHalfOpen:
		return []byte(s.String()), nil
	}
	return nil, fmt.Errorf("tripswitch: invalid state %d", uint8(s))
}

// UnmarshalText decodes a wire name.
func (s *State) UnmarshalText(b []byte) error {
	v, ok := parseState(string(b))
	if !ok {
		return fmt.Errorf("tripswitch: unknown breaker state %q", b)
	}
	*s = v
	return nil
}

func parseState(s string) (State, bool) {
	switch s {
	case "closed":
		return StateClosed, true
	case "open":
		return StateOpen, true
	case "half_open":
		return StateHalfOpen, true
	}
	return 0, false
}

// BreakerStatus is the client's cached view of one breaker.
type BreakerStatus struct {
	Name      string
	State     State
	AllowRate float64   // share of calls allowed: 1 closed, 0 open, the server's rate in half-open
	UpdatedAt time.Time // when the client received this state
}

// cellState is an immutable state value; cells swap whole values.
type cellState struct {
	state     State
	allowRate float64
	updatedAt time.Time
	known     bool // false for a cell made by Prepare for a breaker not heard of yet
}

var closedUnknown = &cellState{state: StateClosed, allowRate: 1}

// breakerCell holds one breaker's state. A cell's identity never changes
// once created, so a prepared call may keep a pointer to it.
type breakerCell struct {
	name string
	cur  atomic.Pointer[cellState]
	// Rejection errors are built once per breaker so that rejecting a call
	// allocates nothing.
	errOpen, errThrottled, errUnavailable *BreakerError
}

func newCell(name string) *breakerCell {
	c := &breakerCell{
		name:           name,
		errOpen:        &BreakerError{Breaker: name, State: StateOpen, Reason: ReasonOpen},
		errThrottled:   &BreakerError{Breaker: name, State: StateHalfOpen, Reason: ReasonThrottled},
		errUnavailable: &BreakerError{Breaker: name, Reason: ReasonUnavailable},
	}
	c.cur.Store(closedUnknown)
	return c
}

// stateCache maps breaker names to cells. Reads are lock-free through an
// immutable map snapshot; writers copy the map when they add a cell.
type stateCache struct {
	mu    sync.Mutex
	cells atomic.Pointer[map[string]*breakerCell]
}

func newStateCache() *stateCache {
	s := &stateCache{}
	m := map[string]*breakerCell{}
	s.cells.Store(&m)
	return s
}

// lookup returns the cell for name, or nil when none exists.
func (s *stateCache) lookup(name string) *breakerCell {
	return (*s.cells.Load())[name]
}

// cell returns the cell for name, creating it when needed.
func (s *stateCache) cell(name string) *breakerCell {
	if c := s.lookup(name); c != nil {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.cells.Load()
	if c := old[name]; c != nil {
		return c
	}
	c := newCell(name)
	m := make(map[string]*breakerCell, len(old)+1)
	maps.Copy(m, old)
	m[name] = c
	s.cells.Store(&m)
	return c
}

// apply records a state event. It reports the previous state and whether
// the breaker was known before, so the caller can decide on a callback.
func (s *stateCache) apply(name string, st State, allowRate float64, now time.Time) (prev State, wasKnown bool) {
	c := s.cell(name)
	old := c.cur.Swap(&cellState{state: st, allowRate: allowRate, updatedAt: now, known: true})
	return old.state, old.known
}

// forget marks breakers not in keep, and not updated after since, as
// unknown (closed).
func (s *stateCache) forget(keep map[string]bool, since time.Time) {
	for name, c := range *s.cells.Load() {
		if keep[name] {
			continue
		}
		if cs := c.cur.Load(); cs.known && cs.updatedAt.Before(since) {
			c.cur.CompareAndSwap(cs, closedUnknown)
		}
	}
}

func (s *stateCache) status(name string) (BreakerStatus, bool) {
	c := s.lookup(name)
	if c == nil {
		return BreakerStatus{}, false
	}
	cs := c.cur.Load()
	if !cs.known {
		return BreakerStatus{}, false
	}
	return BreakerStatus{Name: name, State: cs.state, AllowRate: cs.allowRate, UpdatedAt: cs.updatedAt}, true
}

func (s *stateCache) all() map[string]BreakerStatus {
	out := make(map[string]BreakerStatus)
	for name, c := range *s.cells.Load() {
		if cs := c.cur.Load(); cs.known {
			out[name] = BreakerStatus{Name: name, State: cs.state, AllowRate: cs.allowRate, UpdatedAt: cs.updatedAt}
		}
	}
	return out
}

func (s *stateCache) known() int {
	n := 0
	for _, c := range *s.cells.Load() {
		if c.cur.Load().known {
			n++
		}
	}
	return n
}

// stateEvent is the JSON payload of one state stream event.
type stateEvent struct {
	Breaker   string   `json:"breaker"`
	State     string   `json:"state"`
	AllowRate *float64 `json:"allow_rate"`
}

// decodeStateEvent parses and validates one event payload.
func decodeStateEvent(data []byte) (stateEvent, State, error) {
	var ev stateEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, 0, fmt.Errorf("state event is not a JSON object: %w", err)
	}
	if ev.Breaker == "" {
		return ev, 0, fmt.Errorf("state event has no breaker name")
	}
	st, ok := parseState(ev.State)
	if !ok {
		return ev, 0, fmt.Errorf("state event for %q has unknown state %q", ev.Breaker, ev.State)
	}
	if ev.AllowRate != nil {
		r := *ev.AllowRate
		if !(r >= 0 && r <= 1) { // also rejects NaN
			return ev, 0, fmt.Errorf("state event for %q has allow_rate %v outside [0,1]", ev.Breaker, r)
		}
	}
	return ev, st, nil
}
