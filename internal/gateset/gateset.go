// Package gateset holds the prepared gates of a transport or interceptor
// wrapper: one tripswitch.Gate per distinct target (breakers, router,
// route), compiled on first use and read lock-free afterwards.
package gateset

import (
	"encoding/binary"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// RouteTag is the tag key that carries a request's route or method.
const RouteTag = "route"

// MaxCached bounds the gates a Set keeps; targets beyond it get a gate
// compiled per call (correct, but allocating), so that a target function
// with unbounded output cannot grow memory without limit.
const MaxCached = 1024

// Target is what guards one call.
type Target struct {
	Breakers []string // gate on these; none: not gated
	Router   string   // samples go here; empty: no samples
	Route    string   // tagged RouteTag on the samples when not empty
}

// Spec is the fixed part of every gate of a Set.
type Spec struct {
	Client        *tripswitch.Client
	LatencyMetric string // reported as tripswitch.Latency; empty: none
	Extra         []tripswitch.CallOption
}

// Set is a cache of gates. It is safe for concurrent use.
type Set struct {
	spec    Spec
	fixed   Target     // the probe's breakers and router, for Route
	mu      sync.Mutex // serialises writers
	gates   atomic.Pointer[map[key]*tripswitch.Gate]
	byRoute atomic.Pointer[map[string]*tripswitch.Gate] // fixed target, per route
}

type key struct {
	breakers      string // the one name, or joinNames of several
	several       bool
	router, route string
}

// New checks spec by compiling the gate of probe and returns the Set;
// Route serves probe's breakers and router.
func New(spec Spec, probe Target) (*Set, error) {
	s := &Set{spec: spec, fixed: probe}
	s.gates.Store(new(map[key]*tripswitch.Gate))
	s.byRoute.Store(new(map[string]*tripswitch.Gate))
	if _, err := s.Route(probe.Route); err != nil {
		return nil, err
	}
	return s, nil
}

// Route returns the gate of the probe's breakers and router with this
// route: a lookup by one string, cheaper than Gate.
func (s *Set) Route(route string) (*tripswitch.Gate, error) {
	if g, ok := (*s.byRoute.Load())[route]; ok {
		return g, nil
	}
	t := s.fixed
	t.Route = route
	return lookup(s, &s.byRoute, route, t)
}

// Gate returns the gate of t, compiling it on first use.
func (s *Set) Gate(t Target) (*tripswitch.Gate, error) {
	k := key{router: t.Router, route: t.Route}
	switch len(t.Breakers) {
	case 0:
	case 1:
		k.breakers = t.Breakers[0]
	default:
		k.breakers, k.several = joinNames(t.Breakers), true
	}
	if g, ok := (*s.gates.Load())[k]; ok {
		return g, nil
	}
	return lookup(s, &s.gates, k, t)
}

// joinNames encodes a list of names unambiguously: each is prefixed by
// its length.
func joinNames(names []string) string {
	var b []byte
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	return string(b)
}

// lookup finds or compiles the gate of t under the writers' lock and, below
// MaxCached entries, publishes a copy of the map with it.
func lookup[K comparable](s *Set, gates *atomic.Pointer[map[K]*tripswitch.Gate], k K, t Target) (*tripswitch.Gate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *gates.Load()
	if g, ok := old[k]; ok {
		return g, nil
	}
	g, err := s.build(t)
	if err != nil || len(old) >= MaxCached {
		return g, err
	}
	m := make(map[K]*tripswitch.Gate, len(old)+1)
	maps.Copy(m, old)
	m[k] = g
	gates.Store(&m)
	return g, nil
}

func (s *Set) build(t Target) (*tripswitch.Gate, error) {
	opts := make([]tripswitch.CallOption, 0, 4+len(s.spec.Extra))
	if len(t.Breakers) > 0 {
		opts = append(opts, tripswitch.WithBreakers(t.Breakers...))
	}
	if t.Router != "" {
		opts = append(opts, tripswitch.WithRouter(t.Router))
		if s.spec.LatencyMetric != "" {
			opts = append(opts, tripswitch.WithMetric(s.spec.LatencyMetric, tripswitch.Latency))
		}
	}
	if t.Route != "" {
		opts = append(opts, tripswitch.WithTag(RouteTag, t.Route))
	}
	opts = append(opts, s.spec.Extra...)
	return tripswitch.PrepareGate(s.spec.Client, opts...)
}
