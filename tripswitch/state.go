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
	// Guarded by stateCache.mu.
	pinned   bool // held by a prepared call: never leaves the cache
	fromFeed bool // created by the stream and counted against the limit
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

// MaxBreakers is the most breakers the state stream may add to a client's
// state cache. Events for further breakers are ignored (those breakers
// count as closed) and the overflow is logged. Breakers deleted on the
// server leave the cache at the next metadata sync and free their place.
const MaxBreakers = 100_000

// stateCache maps breaker names to cells. Lookups read an immutable map
// without a lock, as a plain map lookup. Writers (the stream, Prepare,
// metadata sync) serialize on mu and keep the full map in cells; a new
// cell goes to the sync.Map recent at once, which lookups consult only
// after missing the published map, and the full map is republished when
// the recent cells stop arriving or reach a quarter of the published
// ones. Each cell is thus copied a bounded number of times: applying an
// event is O(1) amortized whatever the number of breakers.
type stateCache struct {
	read    atomic.Pointer[map[string]*breakerCell] // published; never modified
	recent  atomic.Pointer[sync.Map]                // cells not published yet
	pending atomic.Int64                            // cells in recent

	mu        sync.Mutex
	cells     map[string]*breakerCell // every cell
	fromFeed  int                     // cells the stream created and that are still cached
	limit     int
	scheduled bool         // a publication is scheduled
	seen      int64        // pending at the last scheduled check
	nKnown    atomic.Int64 // cells holding a state received from the stream
}

// publishDelay is how often pending cells are checked for publication.
const publishDelay = 10 * time.Millisecond

func newStateCache(limit int) *stateCache {
	s := &stateCache{limit: limit, cells: map[string]*breakerCell{}}
	s.read.Store(&map[string]*breakerCell{})
	s.recent.Store(new(sync.Map))
	return s
}

// lookup returns the cell for name, or nil when none exists.
func (s *stateCache) lookup(name string) *breakerCell {
	r := s.read.Load()
	if c := (*r)[name]; c != nil {
		return c
	}
	return s.lookupSlow(name, r)
}

// lookupSlow looks in the cells not yet published. A publication between
// the two reads moves the cell from recent to the new read map; the
// publisher stores the new map first, so looking there again finds it.
func (s *stateCache) lookupSlow(name string, r *map[string]*breakerCell) *breakerCell {
	if s.pending.Load() > 0 {
		if v, ok := s.recent.Load().Load(name); ok {
			return v.(*breakerCell)
		}
	}
	if r2 := s.read.Load(); r2 != r {
		return (*r2)[name]
	}
	return nil
}

// add stores a new cell; s.mu is held.
func (s *stateCache) add(name string, c *breakerCell) {
	s.cells[name] = c
	s.recent.Load().Store(name, c)
	n := s.pending.Add(1)
	switch {
	case n*4 >= int64(len(*s.read.Load()))+64:
		s.publish()
	case !s.scheduled:
		s.scheduled = true
		s.seen = n
		time.AfterFunc(publishDelay, s.publishWhenQuiet)
	}
}

// publishWhenQuiet publishes the pending cells once no new ones arrived
// for publishDelay.
func (s *stateCache) publishWhenQuiet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.pending.Load()
	if n == 0 {
		s.scheduled = false
		return
	}
	if n != s.seen { // still growing: look again later
		s.seen = n
		time.AfterFunc(publishDelay, s.publishWhenQuiet)
		return
	}
	s.scheduled = false
	s.publish()
}

// publish makes every cell visible through the read map; s.mu is held.
// The order matters to lookupSlow: the new map first, then the reset.
func (s *stateCache) publish() {
	m := maps.Clone(s.cells)
	s.read.Store(&m)
	s.recent.Store(new(sync.Map))
	s.pending.Store(0)
}

// cell returns the cell for name, creating (and pinning) it when needed.
func (s *stateCache) cell(name string) *breakerCell {
	if c := s.lookup(name); c != nil {
		return c
	}
	return s.pin(name)
}

// pin returns the cell for name, creating it when needed, and keeps it in
// the cache for good: a prepared call holds on to it.
func (s *stateCache) pin(name string) *breakerCell {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cells[name]
	if c == nil {
		c = newCell(name)
		s.add(name, c)
	} else if c.fromFeed && !c.pinned {
		c.fromFeed = false // pinned cells do not count against the limit
		s.fromFeed--
	}
	c.pinned = true
	return c
}

// apply records a state event. It reports the previous state and whether
// the breaker was known before, so the caller can decide on a callback;
// added is false when the event named a new breaker beyond the limit and
// was ignored.
func (s *stateCache) apply(name string, st State, allowRate float64, now time.Time) (prev State, wasKnown, added bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cells[name]
	if c == nil {
		if s.fromFeed >= s.limit {
			return StateClosed, false, false
		}
		c = newCell(name)
		c.fromFeed = true
		s.fromFeed++
		s.add(name, c)
	}
	old := c.cur.Swap(&cellState{state: st, allowRate: allowRate, updatedAt: now, known: true})
	if !old.known {
		s.nKnown.Add(1)
	}
	return old.state, old.known, true
}

// forget marks breakers not in keep, and not updated after since, as
// unknown (closed), and drops their cells unless a prepared call holds
// them.
func (s *stateCache) forget(keep map[string]bool, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := false
	for name, c := range s.cells {
		if keep[name] {
			continue
		}
		cs := c.cur.Load()
		if !cs.known || !cs.updatedAt.Before(since) {
			continue
		}
		c.cur.Store(closedUnknown)
		s.nKnown.Add(-1)
		if !c.pinned {
			delete(s.cells, name)
			dropped = true
			if c.fromFeed {
				s.fromFeed--
			}
		}
	}
	if dropped {
		s.publish()
	}
}

// each calls fn for every cell; s.mu must not be held.
func (s *stateCache) each(fn func(name string, c *breakerCell)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.cells {
		fn(name, c)
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
	s.each(func(name string, c *breakerCell) {
		if cs := c.cur.Load(); cs.known {
			out[name] = BreakerStatus{Name: name, State: cs.state, AllowRate: cs.allowRate, UpdatedAt: cs.updatedAt}
		}
	})
	return out
}

func (s *stateCache) known() int { return int(s.nKnown.Load()) }

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
