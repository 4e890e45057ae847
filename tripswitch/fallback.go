package tripswitch

import (
	"context"
	"math"
	"sync"
	"time"
)

// LocalPolicy is a local circuit breaker that gates calls while the client
// has no fresh state from the service (the stream has been down longer
// than the grace period, or has not synced yet). Without one, such calls
// all run (fail-open) or are all rejected (fail-closed); with one, each
// named breaker is tripped by the outcomes of this client's own calls
// through it, so a dependency failing during a control-plane outage is
// shed rather than hammered.
//
// Each breaker starts closed when it comes under local control (at its
// first call while the state is stale), with no history. It opens when
// either rule trips; after Cooldown it lets HalfOpenProbes calls through;
// that many successes close it, a failure opens it again. As soon as the
// stream delivers state again, every breaker leaves local control and the
// service's state gates the next call; the local history is discarded.
// A client without WithProjectKey never has fresh state, so the policy
// then gates every call.
//
// Outcomes are counted for breakers named with WithBreakers (not those a
// WithBreakerSelector picks, which are gated but not counted), from
// Execute and from gates' Done and Finish, classified as for samples
// (WithIgnoreErrors, WithErrorEvaluator); a panic is a failure. The zero
// value of a field means its default; a negative value turns a rule off.
type LocalPolicy struct {
	// ConsecutiveFailures opens a breaker after this many failures in a
	// row. Default 5; negative: off.
	ConsecutiveFailures int
	// FailureRate opens a breaker when the share of failed calls over
	// Window reaches it, once MinCalls calls were seen in the window. In
	// (0, 1]. Default 0.5; negative: off.
	FailureRate float64
	// Window is the rolling window of FailureRate, kept in ten buckets.
	// Default 10 s.
	Window time.Duration
	// MinCalls is the fewest calls in Window for FailureRate to apply.
	// Default 20.
	MinCalls int
	// Cooldown is how long an open breaker rejects every call before it
	// lets probes through. Default 10 s.
	Cooldown time.Duration
	// HalfOpenProbes is how many calls a breaker lets through at once
	// after Cooldown, and how many must succeed to close it. Default 1.
	HalfOpenProbes int
}

// The LocalPolicy defaults.
const (
	DefaultLocalConsecutiveFailures = 5
	DefaultLocalFailureRate         = 0.5
	DefaultLocalWindow              = 10 * time.Second
	DefaultLocalMinCalls            = 20
	DefaultLocalCooldown            = 10 * time.Second
	DefaultLocalHalfOpenProbes      = 1
)

// WithLocalFallback gates calls with p while the client has no fresh state
// from the service, in place of the fail-open rule (WithFailOpen). Default:
// no local policy.
func WithLocalFallback(p LocalPolicy) Option {
	return optionFunc(func(c *config) { c.localFallback = &p })
}

// withDefaults returns p with defaults filled in and checked.
func (p LocalPolicy) withDefaults() (LocalPolicy, error) {
	if p.ConsecutiveFailures == 0 {
		p.ConsecutiveFailures = DefaultLocalConsecutiveFailures
	}
	if p.FailureRate == 0 {
		p.FailureRate = DefaultLocalFailureRate
	}
	if p.Window == 0 {
		p.Window = DefaultLocalWindow
	}
	if p.MinCalls == 0 {
		p.MinCalls = DefaultLocalMinCalls
	}
	if p.Cooldown == 0 {
		p.Cooldown = DefaultLocalCooldown
	}
	if p.HalfOpenProbes == 0 {
		p.HalfOpenProbes = DefaultLocalHalfOpenProbes
	}
	switch {
	case math.IsNaN(p.FailureRate) || p.FailureRate > 1:
		return p, optionError("WithLocalFallback", "FailureRate %v outside (0, 1]", p.FailureRate)
	case p.ConsecutiveFailures < 0 && p.FailureRate < 0:
		return p, optionError("WithLocalFallback", "both rules are off (ConsecutiveFailures and FailureRate negative)")
	case p.Window < 0:
		return p, optionError("WithLocalFallback", "Window must not be negative, got %v", p.Window)
	case p.MinCalls < 0:
		return p, optionError("WithLocalFallback", "MinCalls must not be negative, got %d", p.MinCalls)
	case p.Cooldown < 0:
		return p, optionError("WithLocalFallback", "Cooldown must not be negative, got %v", p.Cooldown)
	case p.HalfOpenProbes < 0:
		return p, optionError("WithLocalFallback", "HalfOpenProbes must not be negative, got %d", p.HalfOpenProbes)
	}
	return p, nil
}

// LocalChange is a breaker coming under local control, changing state
// under it, or leaving it (see Hooks.LocalChange).
type LocalChange struct {
	Breaker string
	// Local is true while the local policy gates the breaker; false when
	// the change hands it back to the service's state.
	Local bool
	// From and To are the breaker's local states before and after. A
	// breaker comes under local control closed (From and To closed); on
	// leaving, From is its last local state and To the service's state
	// now gating it.
	From, To State
}

// localFallback gates breakers by LocalPolicy while the state is stale.
// It is only used then, so a mutex is fine.
type localFallback struct {
	p     LocalPolicy
	hooks []func(LocalChange)
	now   func() time.Time

	mu sync.Mutex
	m  map[string]*localBreaker
}

func newLocalFallback(cfg *config) (*localFallback, error) {
	if cfg.localFallback == nil {
		return nil, nil
	}
	p, err := cfg.localFallback.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &localFallback{p: p, now: cfg.now, m: map[string]*localBreaker{}}
	for _, h := range cfg.hooks {
		if h.LocalChange != nil {
			l.hooks = append(l.hooks, h.LocalChange)
		}
	}
	return l, nil
}

const localBuckets = 10

type localBucket struct {
	epoch       int64 // window slice this bucket counts
	calls, fail int
}

// localBreaker is one breaker's local state.
type localBreaker struct {
	name              string
	errOpen, errProbe *BreakerError

	mu        sync.Mutex
	state     State
	consec    int
	buckets   [localBuckets]localBucket
	openedAt  time.Time
	probes    int // probes in flight
	successes int // probe successes since half-open
}

// breaker returns name's local breaker, bringing it under local control,
// or nil once the state is fresh again.
func (l *localFallback) breaker(c *Client, name string) *localBreaker {
	l.mu.Lock()
	b := l.m[name]
	if b != nil || c.fresh.Load() {
		l.mu.Unlock()
		return b
	}
	b = &localBreaker{
		name:     name,
		errOpen:  &BreakerError{Breaker: name, State: StateOpen, Reason: ReasonLocal},
		errProbe: &BreakerError{Breaker: name, State: StateHalfOpen, Reason: ReasonLocal},
	}
	l.m[name] = b
	l.mu.Unlock()
	l.notify(c, LocalChange{Breaker: name, Local: true})
	return b
}

func (l *localFallback) notify(c *Client, ch LocalChange) {
	for _, fn := range l.hooks {
		c.safely("LocalChange hook", func() { fn(ch) })
	}
}

// gate admits a call through names, or rejects it with ReasonLocal. A
// probe slot taken on one breaker is given back when a later one rejects.
func (l *localFallback) gate(ctx context.Context, c *Client, names ...string) error {
	now := l.now()
	for i, name := range names {
		b := l.breaker(c, name)
		if b == nil {
			continue // fresh again: the call started just as the stream synced
		}
		err, ch := b.admit(now, &l.p)
		if ch.Local {
			l.notify(c, ch)
		}
		if err != nil {
			for _, prev := range names[:i] {
				if pb := l.lookup(prev); pb != nil {
					pb.unprobe()
				}
			}
			return c.reject(ctx, err)
		}
	}
	return nil
}

func (l *localFallback) lookup(name string) *localBreaker {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[name]
}

// record counts an outcome against names.
func (l *localFallback) record(c *Client, names []string, ok bool) {
	now := l.now()
	for _, name := range names {
		if b := l.lookup(name); b != nil {
			if ch := b.record(ok, now, &l.p); ch.Local {
				l.notify(c, ch)
			}
		}
	}
}

// leave hands every breaker back to the service's state.
func (l *localFallback) leave(c *Client) {
	l.mu.Lock()
	m := l.m
	l.m = map[string]*localBreaker{}
	l.mu.Unlock()
	for name, b := range m {
		b.mu.Lock()
		from := b.state
		b.mu.Unlock()
		to := StateClosed
		if st, ok := c.states.status(name); ok {
			to = st.State
		}
		l.notify(c, LocalChange{Breaker: name, From: from, To: to})
	}
}

// recordLocal counts the call's outcome under the local policy, when it is
// in force.
func (p *callCore) recordLocal(ok bool) {
	c := p.c
	if c.local == nil || c.fresh.Load() || len(p.names) == 0 {
		return
	}
	c.local.record(c, p.names, ok)
}

// admit decides one call; ch.Local is set when the state changed.
func (b *localBreaker) admit(now time.Time, p *LocalPolicy) (err *BreakerError, ch LocalChange) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateClosed:
		return nil, ch
	case StateOpen:
		if now.Sub(b.openedAt) < p.Cooldown {
			return b.errOpen, ch
		}
		ch = b.set(StateHalfOpen)
		b.probes, b.successes = 0, 0
	}
	if b.probes >= p.HalfOpenProbes {
		return b.errProbe, ch
	}
	b.probes++
	return nil, ch
}

func (b *localBreaker) unprobe() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == StateHalfOpen && b.probes > 0 {
		b.probes--
	}
}

// record counts one outcome; ch.Local is set when the state changed.
func (b *localBreaker) record(ok bool, now time.Time, p *LocalPolicy) (ch LocalChange) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case StateHalfOpen:
		if b.probes > 0 {
			b.probes--
		}
		if !ok {
			return b.open(now)
		}
		b.successes++
		if b.successes >= p.HalfOpenProbes {
			b.reset()
			return b.set(StateClosed)
		}
	case StateClosed:
		if ok {
			b.consec = 0
		} else {
			b.consec++
		}
		calls, fails := b.count(ok, now, p.Window)
		if (p.ConsecutiveFailures > 0 && b.consec >= p.ConsecutiveFailures) ||
			(p.FailureRate > 0 && calls >= p.MinCalls && calls > 0 && float64(fails) >= p.FailureRate*float64(calls)) {
			return b.open(now)
		}
	}
	return ch
}

// count adds an outcome to the rolling window and returns its totals.
func (b *localBreaker) count(ok bool, now time.Time, window time.Duration) (calls, fails int) {
	width := int64(window / localBuckets)
	if width <= 0 {
		width = 1
	}
	epoch := now.UnixNano() / width
	cur := &b.buckets[epoch%localBuckets]
	if cur.epoch != epoch {
		*cur = localBucket{epoch: epoch}
	}
	cur.calls++
	if !ok {
		cur.fail++
	}
	for _, bk := range b.buckets {
		if bk.epoch > epoch-localBuckets && bk.epoch <= epoch {
			calls += bk.calls
			fails += bk.fail
		}
	}
	return calls, fails
}

func (b *localBreaker) open(now time.Time) LocalChange {
	b.reset()
	b.openedAt = now
	return b.set(StateOpen)
}

func (b *localBreaker) reset() {
	b.consec, b.probes, b.successes = 0, 0, 0
	b.buckets = [localBuckets]localBucket{}
}

func (b *localBreaker) set(st State) LocalChange {
	ch := LocalChange{Breaker: b.name, Local: true, From: b.state, To: st}
	b.state = st
	return ch
}

// LocalState returns the state the local fallback policy holds for a
// breaker under local control (see WithLocalFallback); ok is false when
// there is no policy or the breaker is not under local control.
func (c *Client) LocalState(name string) (st State, ok bool) {
	if c.local == nil {
		return 0, false
	}
	b := c.local.lookup(name)
	if b == nil {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, true
}

// LocalStates returns the local state of every breaker under local control
// (see WithLocalFallback); it is empty while the state is fresh.
func (c *Client) LocalStates() map[string]State {
	out := make(map[string]State)
	if c.local == nil {
		return out
	}
	c.local.mu.Lock()
	bs := make([]*localBreaker, 0, len(c.local.m))
	for _, b := range c.local.m {
		bs = append(bs, b)
	}
	c.local.mu.Unlock()
	for _, b := range bs {
		b.mu.Lock()
		out[b.name] = b.state
		b.mu.Unlock()
	}
	return out
}
