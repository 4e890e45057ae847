package engine

import (
	"math"
	"strings"
	"testing"
)

// baseConfig trips when more than half of the samples of a 10 s window fail.
func baseConfig() Config {
	return Config{
		Metric: "calls", Kind: KindErrorRate, Op: OpGt, Threshold: 0.5,
		WindowMs: 10_000, CooldownMs: 30_000, EvalIntervalMs: 1_000,
		HalfOpenConfirmationMs: 2_000,
	}
}

func newBreaker(t *testing.T, cfg Config, now int64) *Breaker {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return New(cfg, now)
}

func addN(b *Breaker, ts int64, n int, ok bool) {
	for range n {
		b.Add(Sample{TsMs: ts, Value: 1, OK: ok})
	}
}

func wantState(t *testing.T, b *Breaker, s State, rate float64) {
	t.Helper()
	if gs, gr := b.State(); gs != s || gr != rate {
		t.Fatalf("State() = (%s, %v), want (%s, %v)", gs, gr, s, rate)
	}
}

func wantNoChange(t *testing.T, b *Breaker, now int64) {
	t.Helper()
	if tr, ok := b.Evaluate(now); ok {
		t.Fatalf("Evaluate(+%dms) changed state: %+v", now-t0, tr)
	}
}

func wantTransition(t *testing.T, b *Breaker, now int64, from, to State, rate float64, reason string) Transition {
	t.Helper()
	tr, ok := b.Evaluate(now)
	if !ok {
		s, r := b.State()
		t.Fatalf("Evaluate(+%dms): no change, still (%s, %v); want %s→%s", now-t0, s, r, from, to)
	}
	want := Transition{From: from, To: to, AllowRate: rate, AtMs: now, Reason: tr.Reason}
	if tr != want {
		t.Fatalf("Evaluate(+%dms) = %+v, want %+v", now-t0, tr, want)
	}
	if reason != "" && tr.Reason != reason {
		t.Fatalf("reason = %q, want %q", tr.Reason, reason)
	}
	wantState(t, b, to, rate)
	return tr
}

// trip opens a closed breaker at now with four failures.
func trip(t *testing.T, b *Breaker, now int64) {
	t.Helper()
	addN(b, now-1, 4, false)
	wantTransition(t, b, now, Closed, Open, 0, "")
}

func TestClosedToOpen(t *testing.T) {
	b := newBreaker(t, baseConfig(), t0)
	wantState(t, b, Closed, 1)
	addN(b, t0+100, 2, true)
	addN(b, t0+200, 2, false)
	wantNoChange(t, b, t0+1000) // 0.5 is not > 0.5
	addN(b, t0+300, 1, false)
	wantTransition(t, b, t0+2000, Closed, Open, 0, "error_rate 0.6 > 0.5 over 5 samples")
	wantNoChange(t, b, t0+3000) // open ignores samples until the cooldown
}

func TestMinCount(t *testing.T) {
	tests := []struct {
		minCount int64
		failures int
		trips    bool
	}{
		{0, 1, true}, // default 1
		{1, 1, true},
		{3, 2, false},
		{3, 3, true},
		{10, 9, false},
	}
	for _, tt := range tests {
		cfg := baseConfig()
		cfg.MinCount = tt.minCount
		b := newBreaker(t, cfg, t0)
		addN(b, t0+10, tt.failures, false)
		if _, ok := b.Evaluate(t0 + 1000); ok != tt.trips {
			t.Errorf("min_count %d with %d failures: tripped %v, want %v", tt.minCount, tt.failures, ok, tt.trips)
		}
	}
}

func TestMinStateDuration(t *testing.T) {
	cfg := baseConfig()
	cfg.MinStateDurationMs = 10_000
	cfg.CooldownMs = 1_000
	cfg.HalfOpenConfirmationMs = 1_000
	cfg.RecoveryAllowRateRampSteps = 4
	b := newBreaker(t, cfg, t0)
	addN(b, t0+1000, 3, false)
	wantNoChange(t, b, t0+5000)
	wantNoChange(t, b, t0+9999)
	wantTransition(t, b, t0+10_000, Closed, Open, 0, "")

	// The cooldown (1 s) is shorter than the minimum state duration.
	wantNoChange(t, b, t0+11_000)
	h := t0 + 20_000
	wantTransition(t, b, h, Open, HalfOpen, 0.25, "cooldown 1s elapsed")

	// Allow-rate steps are not held back; closing is.
	for s := h; s < h+10_000; s += 1000 {
		addN(b, s+500, 5, true)
	}
	wantTransition(t, b, h+1000, HalfOpen, HalfOpen, 0.5, "healthy for 1s: allow_rate 0.5")
	wantTransition(t, b, h+2000, HalfOpen, HalfOpen, 0.75, "")
	for now := h + 3000; now < h+10_000; now += 1000 {
		wantNoChange(t, b, now)
	}
	wantTransition(t, b, h+10_000, HalfOpen, Closed, 1, "")
}

func TestOpenToHalfOpenAfterCooldown(t *testing.T) {
	b := newBreaker(t, baseConfig(), t0)
	trip(t, b, t0+1000)
	if got := b.NextEvalMs(); got != t0+2000 {
		t.Fatalf("NextEvalMs after trip = +%d, want +2000", got-t0)
	}
	wantNoChange(t, b, t0+30_999)
	wantTransition(t, b, t0+31_000, Open, HalfOpen, 0.5, "cooldown 30s elapsed")
}

func TestRampStepsAndClose(t *testing.T) {
	cfg := baseConfig()
	cfg.RecoveryAllowRateRampSteps = 4
	b := newBreaker(t, cfg, t0)
	trip(t, b, t0+1000)
	h := t0 + 31_000
	wantTransition(t, b, h, Open, HalfOpen, 0.25, "cooldown 30s elapsed")

	// Samples from before half_open do not count.
	addN(b, h-10, 50, false)
	// Ten successes in every second from now on.
	at := func(now int64) int64 { addN(b, now-500, 10, true); return now }
	wantNoChange(t, b, at(h+1000))
	wantTransition(t, b, at(h+2000), HalfOpen, HalfOpen, 0.5, "healthy for 2s: allow_rate 0.5")
	wantNoChange(t, b, at(h+3000))
	wantTransition(t, b, at(h+4000), HalfOpen, HalfOpen, 0.75, "healthy for 2s: allow_rate 0.75")
	wantNoChange(t, b, at(h+5000))
	wantTransition(t, b, at(h+6000), HalfOpen, Closed, 1, "recovered: error_rate 0 <= 0.5 over 60 samples")
	wantNoChange(t, b, at(h+7000))
}

func TestRampStepsDefaultIsSingleHalfOpenPhase(t *testing.T) {
	for _, steps := range []int{0, 1, 2} {
		cfg := baseConfig()
		cfg.RecoveryAllowRateRampSteps = steps
		b := newBreaker(t, cfg, t0)
		trip(t, b, t0+1000)
		h := t0 + 31_000
		wantTransition(t, b, h, Open, HalfOpen, 0.5, "")
		addN(b, h+500, 3, true)
		wantTransition(t, b, h+2000, HalfOpen, Closed, 1, "recovered: error_rate 0 <= 0.5 over 3 samples")
	}
}

func TestHalfOpenReopen(t *testing.T) {
	tests := []struct {
		name      string
		backoff   bool
		capMs     int64
		cooldowns []int64 // cooldown before each half_open, in seconds
		reasons   []string
	}{
		{"without backoff", false, 0, []int64{30, 30, 30}, []string{"", "", ""}},
		{"with backoff doubling to the cap", true, 100_000, []int64{30, 60, 100, 100}, []string{
			"; cooldown now 1m0s", "; cooldown now 1m40s", "; cooldown now 1m40s", "; cooldown now 1m40s"}},
		{"default cap is 10 × cooldown", true, 0, []int64{30, 60, 120, 240, 300, 300}, []string{
			"; cooldown now 1m0s", "; cooldown now 2m0s", "; cooldown now 4m0s", "; cooldown now 5m0s", "; cooldown now 5m0s", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.HalfOpenBackoffEnabled, cfg.HalfOpenBackoffCapMs = tt.backoff, tt.capMs
			b := newBreaker(t, cfg, t0)
			now := t0 + 1000
			trip(t, b, now)
			for i, cd := range tt.cooldowns {
				opened := now
				wantNoChange(t, b, opened+cd*1000-1)
				now = opened + cd*1000
				wantTransition(t, b, now, Open, HalfOpen, 0.5, "cooldown "+fmtMs(cd*1000)+" elapsed")
				if i == len(tt.cooldowns)-1 {
					break
				}
				addN(b, now+100, 3, false)
				now += 1000
				tr := wantTransition(t, b, now, HalfOpen, Open, 0, "")
				want := "error_rate 1 > 0.5 over 3 samples" + tt.reasons[i]
				if tr.Reason != want {
					t.Fatalf("re-open %d reason = %q, want %q", i, tr.Reason, want)
				}
			}

			// Recover, trip again: the cooldown is back to 30 s.
			addN(b, now+100, 3, true)
			now += 2000
			wantTransition(t, b, now, HalfOpen, Closed, 1, "")
			now += 20_000
			trip(t, b, now)
			wantNoChange(t, b, now+29_999)
			wantTransition(t, b, now+30_000, Open, HalfOpen, 0.5, "cooldown 30s elapsed")
		})
	}
}

func TestIndeterminatePolicies(t *testing.T) {
	setup := func(t *testing.T, policy string) (*Breaker, int64) {
		cfg := baseConfig()
		cfg.MinCount = 5
		cfg.HalfOpenIndeterminatePolicy = policy
		b := newBreaker(t, cfg, t0)
		addN(b, t0+500, 5, false)
		wantTransition(t, b, t0+1000, Closed, Open, 0, "")
		h := t0 + 31_000
		wantTransition(t, b, h, Open, HalfOpen, 0.5, "")
		return b, h
	}

	t.Run("optimistic advances without samples", func(t *testing.T) {
		b, h := setup(t, PolicyOptimistic)
		addN(b, h+100, 4, false) // 4 < min_count: no verdict, even though they failed
		wantNoChange(t, b, h+1000)
		wantTransition(t, b, h+2000, HalfOpen, Closed, 1,
			"recovered: no verdict for 2s (4 < min_count 5), optimistic policy")
	})
	t.Run("conservative waits for samples", func(t *testing.T) {
		b, h := setup(t, PolicyConservative)
		for now := h + 1000; now <= h+60_000; now += 1000 {
			wantNoChange(t, b, now)
		}
		addN(b, h+60_500, 5, true)
		wantNoChange(t, b, h+61_000) // healthy from now on
		wantNoChange(t, b, h+62_000)
		wantTransition(t, b, h+63_000, HalfOpen, Closed, 1, "recovered: error_rate 0 <= 0.5 over 5 samples")
	})
	t.Run("conservative: default policy", func(t *testing.T) {
		if got := baseConfig().Normalize().HalfOpenIndeterminatePolicy; got != PolicyConservative {
			t.Fatalf("default policy = %q", got)
		}
	})
	t.Run("pessimistic re-opens", func(t *testing.T) {
		b, h := setup(t, PolicyPessimistic)
		addN(b, h+100, 2, true)
		wantNoChange(t, b, h+1000)
		wantTransition(t, b, h+2000, HalfOpen, Open, 0,
			"too few samples for 2s: 2 < min_count 5, pessimistic policy")
	})
	t.Run("pessimistic with enough healthy samples closes", func(t *testing.T) {
		b, h := setup(t, PolicyPessimistic)
		addN(b, h+100, 5, true)
		wantNoChange(t, b, h+1000)
		wantTransition(t, b, h+2000, HalfOpen, Closed, 1, "recovered: error_rate 0 <= 0.5 over 5 samples")
	})
	t.Run("unhealthy re-opens at once under every policy", func(t *testing.T) {
		for _, p := range policies {
			b, h := setup(t, p)
			addN(b, h+100, 5, false)
			wantTransition(t, b, h+1000, HalfOpen, Open, 0, "error_rate 1 > 0.5 over 5 samples")
		}
	})
}

func TestRecoveryWindow(t *testing.T) {
	cfg := baseConfig()
	cfg.RecoveryWindowMs = 3_000
	cfg.HalfOpenConfirmationMs = 10_000
	b := newBreaker(t, cfg, t0)
	trip(t, b, t0+1000)
	h := t0 + 31_000
	wantTransition(t, b, h, Open, HalfOpen, 0.5, "")
	addN(b, h+100, 3, false) // a bad start...
	addN(b, h+2500, 1, true)
	// ...which has left the 3 s recovery window by h+4000 (the 10 s window
	// would still see error_rate 0.75 and re-open).
	wantNoChange(t, b, h+4000)
	addN(b, h+4100, 1, false)
	addN(b, h+4200, 1, false)
	wantTransition(t, b, h+5000, HalfOpen, Open, 0, "error_rate 0.666667 > 0.5 over 3 samples")
}

func TestForce(t *testing.T) {
	t.Run("open waits a full cooldown from the force", func(t *testing.T) {
		b := newBreaker(t, baseConfig(), t0)
		tr := b.Force(Open, 0.7, t0+5000)
		if tr != (Transition{From: Closed, To: Open, AllowRate: 0, Reason: "forced", AtMs: t0 + 5000}) {
			t.Fatalf("Force = %+v", tr)
		}
		wantState(t, b, Open, 0)
		wantNoChange(t, b, t0+34_999)
		wantTransition(t, b, t0+35_000, Open, HalfOpen, 0.5, "")
	})
	t.Run("closed resets backoff", func(t *testing.T) {
		cfg := baseConfig()
		cfg.HalfOpenBackoffEnabled = true
		b := newBreaker(t, cfg, t0)
		trip(t, b, t0+1000)
		wantTransition(t, b, t0+31_000, Open, HalfOpen, 0.5, "")
		addN(b, t0+31_100, 3, false)
		wantTransition(t, b, t0+32_000, HalfOpen, Open, 0, "") // cooldown now 60 s
		tr := b.Force(Closed, 0.2, t0+33_000)
		if tr.From != Open || tr.To != Closed || tr.AllowRate != 1 || tr.Reason != "forced" {
			t.Fatalf("Force = %+v", tr)
		}
		wantState(t, b, Closed, 1)
		trip(t, b, t0+50_000)
		wantTransition(t, b, t0+80_000, Open, HalfOpen, 0.5, "cooldown 30s elapsed")
	})
	t.Run("half_open continues the ramp from the forced rate", func(t *testing.T) {
		cfg := baseConfig()
		cfg.RecoveryAllowRateRampSteps = 4
		b := newBreaker(t, cfg, t0)
		b.Force(HalfOpen, 0.3, t0)
		wantState(t, b, HalfOpen, 0.3)
		addN(b, t0+100, 3, true)
		wantTransition(t, b, t0+2000, HalfOpen, HalfOpen, 0.5, "healthy for 2s: allow_rate 0.5")
	})
	t.Run("half_open allow rate is clamped", func(t *testing.T) {
		for _, tc := range []struct{ in, want float64 }{{7, 1}, {-1, 0}, {math.NaN(), 0}, {0.25, 0.25}} {
			b := newBreaker(t, baseConfig(), t0)
			if tr := b.Force(HalfOpen, tc.in, t0); tr.AllowRate != tc.want {
				t.Errorf("Force(half_open, %v).AllowRate = %v, want %v", tc.in, tr.AllowRate, tc.want)
			}
			wantState(t, b, HalfOpen, tc.want)
		}
	})
	t.Run("unknown state changes nothing", func(t *testing.T) {
		b := newBreaker(t, baseConfig(), t0)
		tr := b.Force("ajar", 0.5, t0)
		if tr.From != Closed || tr.To != Closed {
			t.Fatalf("Force(ajar) = %+v", tr)
		}
		wantState(t, b, Closed, 1)
	})
}

func TestReconfigureKeepsState(t *testing.T) {
	b := newBreaker(t, baseConfig(), t0)
	trip(t, b, t0+1000) // four failures at +999

	cfg := baseConfig()
	cfg.Threshold, cfg.CooldownMs, cfg.WindowMs = 0.9, 5_000, 5_000
	cfg.RecoveryAllowRateRampSteps = 4
	b.Reconfigure(cfg, t0+2000)
	wantState(t, b, Open, 0)
	if v, n := b.Aggregate(t0 + 2000); n != 4 || v != 1 {
		t.Fatalf("after Reconfigure: aggregate %v over %d, want 1 over 4 (samples kept)", v, n)
	}
	// The open timer is kept; the new cooldown applies.
	wantNoChange(t, b, t0+5999)
	wantTransition(t, b, t0+6000, Open, HalfOpen, 0.25, "cooldown 5s elapsed")
	// The new window applies: +999 is not inside (6000-5000, ∞).
	if _, n := b.Aggregate(t0 + 6000); n != 0 {
		t.Fatalf("count with the 5 s window = %d, want 0", n)
	}

	// Changing the ramp in half_open keeps the current allow_rate; the next
	// step follows the new ramp.
	cfg.RecoveryAllowRateRampSteps = 2
	b.Reconfigure(cfg, t0+6500)
	wantState(t, b, HalfOpen, 0.25)
	addN(b, t0+6600, 3, true)
	wantTransition(t, b, t0+8000, HalfOpen, HalfOpen, 0.5, "healthy for 2s: allow_rate 0.5")
	wantTransition(t, b, t0+10_000, HalfOpen, Closed, 1, "recovered: error_rate 0 <= 0.9 over 3 samples")
}

func TestNextEvalMs(t *testing.T) {
	cfg := baseConfig()
	cfg.CooldownMs, cfg.HalfOpenConfirmationMs = 300, 2_500
	b := newBreaker(t, cfg, t0)
	if got := b.NextEvalMs(); got != t0+1000 {
		t.Fatalf("NextEvalMs after New = +%d, want +1000", got-t0)
	}
	b.Evaluate(t0 + 1234)
	if got := b.NextEvalMs(); got != t0+2234 {
		t.Fatalf("NextEvalMs after Evaluate(+1234) = +%d, want +2234", got-t0)
	}
	trip(t, b, t0+3000)
	if got := b.NextEvalMs(); got != t0+3300 {
		t.Fatalf("NextEvalMs when open with a 300 ms cooldown = +%d, want +3300", got-t0)
	}
	wantTransition(t, b, t0+3300, Open, HalfOpen, 0.5, "cooldown 300ms elapsed")
	addN(b, t0+3400, 1, true)
	b.Evaluate(t0 + 4300)
	b.Evaluate(t0 + 5300)
	if got := b.NextEvalMs(); got != t0+5800 {
		t.Fatalf("NextEvalMs in half_open, confirmation due at +5800 = +%d", got-t0)
	}
	wantTransition(t, b, t0+5800, HalfOpen, Closed, 1, "")
}

func TestReasonFormats(t *testing.T) {
	tests := []struct {
		cfg   Config
		value float64
		want  string
	}{
		{Config{Metric: "latency", Kind: KindP95, Op: OpGt, Threshold: 500}, 812.3, "p95 812.3 > 500 over 214 samples"},
		{Config{Metric: "latency", Kind: KindPercentile, KindParams: pct(99.9), Op: OpGte, Threshold: 1000}, 1000, "p99.9 1000 >= 1000 over 214 samples"},
		{Config{Metric: "latency", Kind: KindMin, Op: OpLt, Threshold: 0.25}, 0.125, "min 0.125 < 0.25 over 214 samples"},
		{Config{Metric: "latency", Kind: KindAvg, Op: OpLte, Threshold: -3}, -7.5, "avg -7.5 <= -3 over 214 samples"},
	}
	for _, tt := range tests {
		b := newBreaker(t, tt.cfg, t0)
		for range 214 {
			b.Add(Sample{TsMs: t0 + 1, Value: tt.value, OK: true})
		}
		tr, ok := b.Evaluate(t0 + 1000)
		if !ok || tr.Reason != tt.want {
			t.Errorf("reason = %q (changed %v), want %q", tr.Reason, ok, tt.want)
		}
		if strings.Contains(tr.Reason, "%!") {
			t.Errorf("malformed reason %q", tr.Reason)
		}
	}
}
