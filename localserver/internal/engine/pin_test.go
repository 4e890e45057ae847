package engine

import "testing"

func TestPinHoldsForcedClosedUntilRelease(t *testing.T) {
	b := newBreaker(t, baseConfig(), t0)
	b.Force(Closed, 1, t0)
	b.Pin()
	addN(b, t0+100, 20, false)
	for ms := int64(1_000); ms <= 5_000; ms += 1_000 {
		wantNoChange(t, b, t0+ms)
	}
	wantState(t, b, Closed, 1)
	if !b.Pinned() {
		t.Fatal("Pinned() = false after Pin")
	}
	b.Release(t0 + 5_500)
	if b.Pinned() || b.NextEvalMs() != t0+5_500 {
		t.Fatalf("after Release: Pinned() = %v, NextEvalMs() = +%dms; want false, +5500ms", b.Pinned(), b.NextEvalMs()-t0)
	}
	wantTransition(t, b, t0+5_500, Closed, Open, 0, "")
}

func TestPinHoldsForcedOpenPastCooldown(t *testing.T) {
	cfg := baseConfig()
	b := newBreaker(t, cfg, t0)
	b.Force(Open, 0, t0)
	b.Pin()
	wantNoChange(t, b, t0+cfg.CooldownMs+1)
	wantState(t, b, Open, 0)
	b.Release(t0 + cfg.CooldownMs + 2)
	wantTransition(t, b, t0+cfg.CooldownMs+2, Open, HalfOpen, 0.5, "")
}

func TestResetWindowDropsSamples(t *testing.T) {
	b := newBreaker(t, baseConfig(), t0)
	addN(b, t0+100, 20, false)
	if _, n := b.Aggregate(t0 + 200); n != 20 {
		t.Fatalf("Aggregate count = %d before reset, want 20", n)
	}
	b.ResetWindow(t0 + 300)
	if v, n := b.Aggregate(t0 + 300); n != 0 || v != 0 {
		t.Fatalf("Aggregate after reset = (%v, %d), want (0, 0)", v, n)
	}
	wantNoChange(t, b, t0+1_000)
	addN(b, t0+1_100, 20, false)
	wantTransition(t, b, t0+2_000, Closed, Open, 0, "")
}
