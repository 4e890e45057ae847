package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// stored returns the ring's samples, oldest first.
func stored(w *window) []Sample {
	a, b := w.segs(0, w.n)
	return append(slices.Clone(a), b...)
}

func TestWindowExpiry(t *testing.T) {
	b := New(Config{Metric: "m", Kind: KindCount, Op: OpGt, Threshold: 1e9, WindowMs: 10_000}, t0)
	b.Add(Sample{TsMs: t0 + 1000, Value: 1, OK: true})
	b.Add(Sample{TsMs: t0 + 5000, Value: 1, OK: true})
	tests := []struct {
		now  int64
		want int
	}{
		{t0 + 5000, 2},
		{t0 + 10_999, 2}, // ts 1000 > 10999-10000
		{t0 + 11_000, 1}, // ts 1000 is no longer > now-window
		{t0 + 14_999, 1},
		{t0 + 15_000, 0},
		{t0 + 99_000, 0},
	}
	for _, tt := range tests {
		if _, n := b.Aggregate(tt.now); n != tt.want {
			t.Fatalf("count at +%dms = %d, want %d", tt.now-t0, n, tt.want)
		}
	}
}

func TestOutOfOrderSamples(t *testing.T) {
	cfg := Config{Metric: "m", Op: OpGt, Threshold: 1e9, WindowMs: 10_000}
	// Arrival order differs from timestamp order.
	arrivals := []Sample{
		{TsMs: t0 + 3000, Value: 3, OK: false},
		{TsMs: t0 + 1000, Value: 1, OK: true},
		{TsMs: t0 + 4000, Value: 4, OK: false},
		{TsMs: t0 + 2000, Value: 2, OK: false},
		{TsMs: t0 + 5000, Value: 5, OK: true}, // newest by timestamp: success
		{TsMs: t0 + 500, Value: 0.5, OK: false},
	}
	at := func(kind string) float64 {
		c := cfg
		c.Kind = kind
		b := New(c, t0)
		for _, s := range arrivals {
			b.Add(s)
		}
		v, _ := b.Aggregate(t0 + 6000)
		return v
	}
	if got := at(KindConsecutiveFailures); got != 0 {
		t.Errorf("consecutive_failures = %v, want 0 (the newest sample by timestamp succeeded)", got)
	}
	if got := at(KindDelta); got != 5-0.5 {
		t.Errorf("delta = %v, want 4.5 (last by timestamp minus first by timestamp)", got)
	}

	// Without the final success the trailing run by timestamp is 4,3,2 → 3.
	c := cfg
	c.Kind = KindConsecutiveFailures
	b := New(c, t0)
	for _, s := range arrivals[:4] {
		b.Add(s)
	}
	if v, _ := b.Aggregate(t0 + 6000); v != 3 {
		t.Errorf("consecutive_failures of ts 1000(ok) 2000(fail) 3000(fail) 4000(fail) = %v, want 3", v)
	}

	// A late sample is windowed by its timestamp, not its arrival.
	c.Kind = KindCount
	b = New(c, t0)
	b.Add(Sample{TsMs: t0 + 20_000, Value: 1, OK: true})
	b.Add(Sample{TsMs: t0 + 9_000, Value: 1, OK: true}) // late, already outside at +20s
	b.Add(Sample{TsMs: t0 + 15_000, Value: 1, OK: true})
	if _, n := b.Aggregate(t0 + 20_000); n != 2 {
		t.Errorf("count at +20s = %d, want 2 (ts 9000 is outside the window)", n)
	}
}

func TestEqualTimestampsKeepArrivalOrder(t *testing.T) {
	b := New(Config{Metric: "m", Kind: KindDelta, Op: OpGt, Threshold: 1e9}, t0)
	b.Add(Sample{TsMs: t0 + 100, Value: 100, OK: true})
	// Three late samples sharing a timestamp, then one more with it.
	b.Add(Sample{TsMs: t0 + 50, Value: 1, OK: true})
	b.Add(Sample{TsMs: t0 + 50, Value: 2, OK: true})
	b.Add(Sample{TsMs: t0 + 100, Value: 3, OK: true}) // same ts as the first, arrived later
	v, n := b.Aggregate(t0 + 200)
	// Order: (50,1) (50,2) (100,100) (100,3) → delta 3 - 1.
	if n != 4 || v != 2 {
		t.Fatalf("delta = %v over %d, want 2 over 4", v, n)
	}
	got := stored(&b.w)
	want := []Sample{
		{TsMs: t0 + 50, Value: 1, OK: true},
		{TsMs: t0 + 50, Value: 2, OK: true},
		{TsMs: t0 + 100, Value: 100, OK: true},
		{TsMs: t0 + 100, Value: 3, OK: true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored order = %v, want %v", got, want)
	}
}

// TestRunningSumsMatchScan drives a breaker with shuffled timestamps, a small
// sample cap and a sliding clock, and checks every kind's aggregate against
// a direct computation over the samples that should be in the window.
func TestRunningSumsMatchScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	const window = 2_000
	for _, limit := range []int{300, 50_000} {
		bs := make(map[string]*Breaker)
		for _, k := range kinds {
			b := New(Config{Metric: "m", Kind: k, KindParams: pct(90), Op: OpGt, Threshold: 1e300, WindowMs: window}, t0)
			b.w.limit = limit
			bs[k] = b
		}
		var all []Sample // reference: every sample, arrival order
		now := t0
		for step := range 400 {
			now += int64(r.IntN(50))
			for range r.IntN(40) {
				s := Sample{TsMs: now - int64(r.IntN(300)), Value: 1e6 + r.NormFloat64()*10, OK: r.IntN(4) != 0}
				if step%97 == 0 {
					s.Value = float64(r.IntN(3))
				}
				all = append(all, s)
				for _, b := range bs {
					b.Add(s)
				}
			}
			// Below the cap: compare with the samples of the window sorted
			// by (ts, arrival) independently of the breaker.
			if limit >= len(all) && step%5 == 0 {
				var in []Sample
				for _, s := range all {
					if s.TsMs > now-window {
						in = append(in, s)
					}
				}
				slices.SortStableFunc(in, byTs)
				for _, k := range kinds {
					got, n := bs[k].Aggregate(now)
					var scratch []float64
					want := aggregate(k, 90, in, nil, &scratch)
					if n != len(in) || !approx(got, want) {
						t.Fatalf("limit %d step %d %s = %v over %d, want %v over %d", limit, step, k, got, n, want, len(in))
					}
				}
			}
			// Whatever the cap did, the running sums must agree with the
			// stored window.
			for _, k := range kinds {
				b := bs[k]
				got, n := b.Aggregate(now)
				in1, in2 := b.w.inWindow()
				in := append(slices.Clone(in1), in2...)
				var scratch []float64
				want := aggregate(k, 90, in, nil, &scratch)
				if n != len(in) || !approx(got, want) {
					t.Fatalf("limit %d step %d %s: running %v over %d, stored window %v over %d", limit, step, k, got, n, want, len(in))
				}
				if n > limit {
					t.Fatalf("limit %d: %d samples in window", limit, n)
				}
			}
			if !slices.IsSortedFunc(stored(&bs[KindSum].w), byTs) {
				t.Fatalf("limit %d step %d: stored samples out of order", limit, step)
			}
		}
	}
}

func TestManyShuffledSamplesWithoutReads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := New(Config{Metric: "m", Kind: KindDelta, Op: OpGt, Threshold: 1e9}, t0)
	const n = 50_000
	perm := r.Perm(n)
	for _, i := range perm { // pending merges happen inside Add
		b.Add(Sample{TsMs: t0 + int64(i), Value: float64(i), OK: true})
	}
	v, cnt := b.Aggregate(t0 + n)
	if cnt != n || v != n-1 {
		t.Fatalf("delta = %v over %d, want %d over %d", v, cnt, n-1, n)
	}
	if !slices.IsSortedFunc(stored(&b.w), byTs) {
		t.Fatal("stored samples out of order")
	}
}

func TestSampleCap(t *testing.T) {
	b := New(Config{Metric: "m", Kind: KindMin, Op: OpGt, Threshold: 1e9}, t0)
	b.w.limit = 100
	for i := range 1000 {
		b.Add(Sample{TsMs: t0 + int64(i), Value: float64(i), OK: true})
	}
	v, n := b.Aggregate(t0 + 1000)
	if n != 100 || v != 900 {
		t.Fatalf("after 1000 adds with cap 100: min %v over %d, want 900 over 100 (the newest kept)", v, n)
	}
	if b.w.size() > 100 {
		t.Fatalf("stored %d samples, cap 100", b.w.size())
	}
}

func TestBuffersShrinkWhenTrafficStops(t *testing.T) {
	b := New(Config{Metric: "m", Kind: KindCount, Op: OpGt, Threshold: 1e9, WindowMs: 1000}, t0)
	for i := range 200_000 {
		b.Add(Sample{TsMs: t0 + int64(i%1000), Value: 1, OK: true})
	}
	b.Evaluate(t0 + 999)
	if len(b.w.ring) < 200_000 {
		t.Fatalf("ring size %d, want it to hold the window", len(b.w.ring))
	}
	b.Evaluate(t0 + 5000)
	if c := len(b.w.ring); c > shrinkMin {
		t.Fatalf("ring size %d after the window emptied, want <= %d", c, shrinkMin)
	}
}

func TestAddAndEvaluateDoNotAllocate(t *testing.T) {
	for _, k := range []string{KindErrorRate, KindP95, KindMax} {
		b := New(Config{Metric: "m", Kind: k, Op: OpGt, Threshold: 1e9, WindowMs: 1000}, t0)
		ts := t0
		warm := func() {
			for range 100 {
				ts++
				b.Add(Sample{TsMs: ts, Value: float64(ts % 97), OK: ts%5 != 0})
			}
			b.Evaluate(ts)
		}
		for range 100 {
			warm() // reach steady state: buffers sized for the window
		}
		if a := testing.AllocsPerRun(200, warm); a != 0 {
			t.Errorf("%s: %v allocations per 100 adds + evaluate in steady state, want 0", k, a)
		}
	}
}

func TestNonFiniteValues(t *testing.T) {
	b := New(Config{Metric: "m", Kind: KindAvg, Op: OpGt, Threshold: 1e9, WindowMs: 1000}, t0)
	b.Add(Sample{TsMs: t0, Value: math.NaN(), OK: true})
	b.Add(Sample{TsMs: t0, Value: 4, OK: true})
	if v, n := b.Aggregate(t0); v != 2 || n != 2 {
		t.Fatalf("avg of NaN and 4 = %v over %d, want 2 over 2 (NaN counts as 0)", v, n)
	}
	b.Add(Sample{TsMs: t0 + 10, Value: math.Inf(1), OK: true})
	b.Add(Sample{TsMs: t0 + 10, Value: math.Inf(1), OK: true})
	b.Add(Sample{TsMs: t0 + 10, Value: math.Inf(-1), OK: true})
	b.Evaluate(t0 + 20) // overflowing sums must not stick
	b.Add(Sample{TsMs: t0 + 1500, Value: 3, OK: true})
	b.Add(Sample{TsMs: t0 + 1600, Value: 5, OK: true})
	if v, n := b.Aggregate(t0 + 1700); v != 4 || n != 2 {
		t.Fatalf("avg after the huge values left the window = %v over %d, want 4 over 2", v, n)
	}

	m := New(Config{Metric: "m", Kind: KindMax, Op: OpGt, Threshold: 1e9}, t0)
	m.Add(Sample{TsMs: t0, Value: math.Inf(1), OK: true})
	if v, _ := m.Aggregate(t0); v != math.MaxFloat64 {
		t.Fatalf("max of +Inf = %v, want the largest finite float64", v)
	}
}

func TestInvalidConfigNeverPanicsOrTrips(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Kind: "nope", Op: "nope"},
		{Kind: KindPercentile, KindParams: pct(-5), Op: OpGt, Threshold: -1},
		{Kind: KindAvg, Op: OpGt, WindowMs: -10, CooldownMs: -1, EvalIntervalMs: -1, RecoveryAllowRateRampSteps: -3},
	} {
		b := New(cfg, t0)
		for i := range 100 {
			b.Add(Sample{TsMs: t0 + int64(i), Value: float64(i), OK: i%2 == 0})
		}
		b.Aggregate(t0 + 100)
		invalid := cfg.Kind == "" || cfg.Kind == "nope"
		for now := t0; now < t0+5000; now += 100 {
			if tr, ok := b.Evaluate(now); ok && invalid {
				t.Errorf("config %+v tripped: %+v", cfg, tr)
			}
		}
		b.Force(HalfOpen, 0.5, t0+5000)
		b.Evaluate(t0 + 6000)
		if invalid {
			if s, _ := b.State(); s != HalfOpen {
				t.Errorf("config %+v: state %s after forcing half_open, want it kept", cfg, s)
			}
		}
	}
}
