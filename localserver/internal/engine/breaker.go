package engine

import "math"

// State is a breaker state as sent on the state stream.
type State string

// Breaker states.
const (
	Closed   State = "closed"
	Open     State = "open"
	HalfOpen State = "half_open"
)

// Transition describes a change of a breaker's state or of its half-open
// allow_rate.
type Transition struct {
	From, To  State
	AllowRate float64 // allow_rate after the change: 1 closed, 0 open
	Reason    string  // human-readable, e.g. "p95 812.3 > 500 over 214 samples"
	AtMs      int64
}

// verdict classifies a half-open evaluation.
type verdict uint8

const (
	verdictNone verdict = iota
	verdictHealthy
	verdictIndeterminate
	verdictUnhealthy
)

// Breaker evaluates one breaker's samples and holds its state. It starts
// closed. A Breaker is not safe for concurrent use and starts no goroutines;
// all times are Unix milliseconds supplied by the caller.
type Breaker struct {
	cfg       Config
	state     State
	allowRate float64
	enteredMs int64 // when the current state was entered
	reopens   int   // consecutive re-opens from half_open (backoff exponent)

	stepStartMs int64   // half_open: when the current allow_rate step began
	verdict     verdict // half_open: classification of the last evaluation
	verdictMs   int64   // half_open: since when that classification holds

	nextEvalMs int64
	pinned     bool // set by Pin: Evaluate changes nothing until Release
	w          window
}

// New returns a closed breaker created at nowMs. cfg is normalized; it
// should have passed [Config.Validate] (an invalid kind or op never trips).
func New(cfg Config, nowMs int64) *Breaker {
	cfg = cfg.Normalize()
	b := &Breaker{
		cfg:       cfg,
		state:     Closed,
		allowRate: 1,
		enteredMs: nowMs,
		w:         newWindow(nowMs - cfg.WindowMs),
	}
	b.nextEvalMs = nowMs + cfg.EvalIntervalMs
	return b
}

// Add records a sample. It is O(1) amortised and allocates only when the
// sample store grows. Samples may arrive out of timestamp order; they are
// ordered by timestamp, then arrival. At most [MaxSamples] are kept (the
// oldest are dropped first). A NaN value counts as 0 and ±Inf as the
// largest finite value of that sign.
func (b *Breaker) Add(s Sample) { b.w.add(s) }

// State returns the current state and allow_rate (1 when closed, 0 when
// open).
func (b *Breaker) State() (State, float64) { return b.state, b.allowRate }

// NextEvalMs returns when Evaluate should run next: one eval_interval_ms
// after the last evaluation, or earlier when a cooldown or half-open
// confirmation period ends before that.
func (b *Breaker) NextEvalMs() int64 { return b.nextEvalMs }

// Aggregate returns the breaker's aggregate over its window
// (now-window_ms, ∞) and the number of samples in it. An empty window
// yields (0, 0). It drops samples that have left every window.
func (b *Breaker) Aggregate(nowMs int64) (value float64, count int) {
	b.sync(nowMs)
	return windowAggregate(&b.cfg, &b.w)
}

func (b *Breaker) sync(nowMs int64) {
	b.w.sync(nowMs, b.cfg.WindowMs, b.cfg.RecoveryWindowMs)
}

// Evaluate runs one evaluation step at nowMs and reports whether the state
// or the half-open allow_rate changed. At most one transition happens per
// call. It may be called at any time; NextEvalMs says when it is due.
func (b *Breaker) Evaluate(nowMs int64) (Transition, bool) {
	b.sync(nowMs)
	if b.pinned {
		b.nextEvalMs = nowMs + b.cfg.EvalIntervalMs
		return Transition{}, false
	}
	var (
		t  Transition
		ok bool
	)
	switch b.state {
	case Closed:
		t, ok = b.evalClosed(nowMs)
	case Open:
		t, ok = b.evalOpen(nowMs)
	case HalfOpen:
		t, ok = b.evalHalfOpen(nowMs)
	}
	b.nextEvalMs = b.next(nowMs)
	return t, ok
}

func (b *Breaker) settled(nowMs int64) bool {
	return nowMs-b.enteredMs >= b.cfg.MinStateDurationMs
}

func (b *Breaker) evalClosed(nowMs int64) (Transition, bool) {
	if !b.settled(nowMs) {
		return Transition{}, false
	}
	v, n := windowAggregate(&b.cfg, &b.w)
	if int64(n) < b.cfg.MinCount || !holds(b.cfg.Op, v, b.cfg.Threshold) {
		return Transition{}, false
	}
	return b.open(nowMs, b.condition(v, n, false)), true
}

func (b *Breaker) evalOpen(nowMs int64) (Transition, bool) {
	cd := b.cooldown()
	if nowMs-b.enteredMs < cd || !b.settled(nowMs) {
		return Transition{}, false
	}
	return b.halfOpen(nowMs, 1/float64(b.rampSteps()), "cooldown "+fmtMs(cd)+" elapsed"), true
}

func (b *Breaker) evalHalfOpen(nowMs int64) (Transition, bool) {
	lo := max(b.enteredMs, nowMs-b.cfg.RecoveryWindowMs+1)
	s1, s2 := b.w.since(lo)
	n := len(s1) + len(s2)
	v := aggregate(b.cfg.Kind, b.cfg.percentile, s1, s2, &b.w.scratch)
	enough := int64(n) >= b.cfg.MinCount
	policy := b.cfg.HalfOpenIndeterminatePolicy

	var vd verdict
	switch {
	case enough && holds(b.cfg.Op, v, b.cfg.Threshold):
		vd = verdictUnhealthy
	case enough || policy == PolicyOptimistic:
		vd = verdictHealthy
	default:
		vd = verdictIndeterminate
	}
	if vd != b.verdict {
		if b.verdict == verdictNone {
			b.verdictMs = b.stepStartMs
		} else {
			b.verdictMs = nowMs
		}
		b.verdict = vd
	}
	lasted := nowMs - b.verdictMs
	confirmed := lasted >= b.cfg.HalfOpenConfirmationMs

	switch vd {
	case verdictUnhealthy:
		if b.settled(nowMs) {
			return b.reopen(nowMs, b.condition(v, n, false)), true
		}
	case verdictIndeterminate:
		if policy == PolicyPessimistic && confirmed && b.settled(nowMs) {
			return b.reopen(nowMs, "too few samples for "+fmtMs(lasted)+": "+
				itoa(n)+" < min_count "+itoa64(b.cfg.MinCount)+", pessimistic policy"), true
		}
	case verdictHealthy:
		if !confirmed {
			break
		}
		steps := b.rampSteps()
		k := int(math.Floor(b.allowRate*float64(steps)+1e-9)) + 1
		if k < steps {
			rate := float64(k) / float64(steps)
			reason := "healthy for " + fmtMs(lasted) + ": allow_rate " + fmtNum(rate)
			if !enough {
				reason = "no verdict for " + fmtMs(lasted) + " (" + itoa(n) + " < min_count " +
					itoa64(b.cfg.MinCount) + "), optimistic policy: allow_rate " + fmtNum(rate)
			}
			from := b.allowRate
			b.allowRate = rate
			b.stepStartMs, b.verdict = nowMs, verdictNone
			if rate == from {
				return Transition{}, false
			}
			return Transition{From: HalfOpen, To: HalfOpen, AllowRate: rate, Reason: reason, AtMs: nowMs}, true
		}
		if !b.settled(nowMs) {
			break
		}
		reason := "recovered: " + b.condition(v, n, true)
		if !enough {
			reason = "recovered: no verdict for " + fmtMs(lasted) + " (" + itoa(n) + " < min_count " +
				itoa64(b.cfg.MinCount) + "), optimistic policy"
		}
		return b.close(nowMs, reason), true
	}
	return Transition{}, false
}

// rampSteps is the effective number of allow_rate steps: values below 2
// behave as 2 (a single half-open phase at allow_rate 0.5).
func (b *Breaker) rampSteps() int { return max(b.cfg.RecoveryAllowRateRampSteps, 2) }

// cooldown is the current cooldown: cooldown_ms, doubled per consecutive
// re-open from half_open when backoff is enabled, capped by
// half_open_backoff_cap_ms but never below cooldown_ms.
func (b *Breaker) cooldown() int64 {
	base := b.cfg.CooldownMs
	if !b.cfg.HalfOpenBackoffEnabled {
		return base
	}
	c, limit := base, b.cfg.HalfOpenBackoffCapMs
	for i := 0; i < b.reopens && c < limit && c < math.MaxInt64/2; i++ {
		c *= 2
	}
	return max(base, min(c, limit))
}

func (b *Breaker) enter(s State, rate float64, nowMs int64, reason string) Transition {
	t := Transition{From: b.state, To: s, AllowRate: rate, Reason: reason, AtMs: nowMs}
	b.state, b.allowRate, b.enteredMs = s, rate, nowMs
	b.stepStartMs, b.verdict, b.verdictMs = nowMs, verdictNone, nowMs
	return t
}

func (b *Breaker) open(nowMs int64, reason string) Transition {
	return b.enter(Open, 0, nowMs, reason)
}

func (b *Breaker) reopen(nowMs int64, reason string) Transition {
	if b.cfg.HalfOpenBackoffEnabled {
		if b.cooldown() < b.cfg.HalfOpenBackoffCapMs && b.reopens < 62 {
			b.reopens++
		}
		reason += "; cooldown now " + fmtMs(b.cooldown())
	}
	return b.enter(Open, 0, nowMs, reason)
}

func (b *Breaker) halfOpen(nowMs int64, rate float64, reason string) Transition {
	return b.enter(HalfOpen, rate, nowMs, reason)
}

func (b *Breaker) close(nowMs int64, reason string) Transition {
	b.reopens = 0
	return b.enter(Closed, 1, nowMs, reason)
}

// next computes the next due evaluation time after an evaluation at nowMs.
func (b *Breaker) next(nowMs int64) int64 {
	next := nowMs + b.cfg.EvalIntervalMs
	due := int64(math.MaxInt64)
	switch b.state {
	case Open:
		due = b.enteredMs + max(b.cooldown(), b.cfg.MinStateDurationMs)
	case HalfOpen:
		switch {
		case b.verdict == verdictNone:
			due = b.stepStartMs + b.cfg.HalfOpenConfirmationMs
		case b.verdict == verdictHealthy,
			b.verdict == verdictIndeterminate && b.cfg.HalfOpenIndeterminatePolicy == PolicyPessimistic:
			due = b.verdictMs + b.cfg.HalfOpenConfirmationMs
		}
	}
	if due > nowMs && due < next {
		return due
	}
	return next
}

// Force sets the state regardless of the samples and returns the
// transition (reason "forced"; From may equal To). allowRate is used only
// for HalfOpen and is clamped to [0, 1] (NaN counts as 0); Closed always has
// 1 and Open 0. Forcing Closed resets the cooldown backoff. Timers restart
// at nowMs: a forced Open waits a full cooldown. An unknown state changes
// nothing and returns a transition from and to the current state.
func (b *Breaker) Force(s State, allowRate float64, nowMs int64) Transition {
	var t Transition
	switch s {
	case Closed:
		t = b.close(nowMs, "forced")
	case Open:
		t = b.open(nowMs, "forced")
	case HalfOpen:
		if !(allowRate >= 0) {
			allowRate = 0
		}
		t = b.halfOpen(nowMs, min(allowRate, 1), "forced")
	default:
		return Transition{From: b.state, To: b.state, AllowRate: b.allowRate, Reason: "forced: unknown state " + string(s) + " ignored", AtMs: nowMs}
	}
	b.nextEvalMs = min(b.nextEvalMs, b.next(nowMs))
	return t
}

// Reconfigure replaces the configuration at nowMs, keeping the state,
// allow_rate, timers, backoff level and stored samples. A changed window
// takes effect at the next Evaluate or Aggregate; a window that grows sees
// only samples that were still stored. cfg is normalized as in New.
func (b *Breaker) Reconfigure(cfg Config, nowMs int64) {
	cfg = cfg.Normalize()
	if cfg.WindowMs != b.cfg.WindowMs {
		b.w.dirty = true
	}
	b.cfg = cfg
	b.nextEvalMs = min(b.nextEvalMs, b.next(nowMs))
}

// Pin keeps the current state (typically just set by Force): Evaluate
// changes nothing until Release. Samples are still stored.
func (b *Breaker) Pin() { b.pinned = true }

// Pinned reports whether the state is pinned.
func (b *Breaker) Pinned() bool { return b.pinned }

// Release undoes Pin: evaluation resumes from the current state, with its
// timers counted from when that state was entered, and is due at nowMs.
func (b *Breaker) Release(nowMs int64) {
	b.pinned = false
	b.nextEvalMs = nowMs
}

// ResetWindow drops every stored sample at nowMs; the state is unchanged.
func (b *Breaker) ResetWindow(nowMs int64) {
	b.w = newWindow(nowMs - b.cfg.WindowMs)
}
