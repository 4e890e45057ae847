package main

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// payments is the simulated flaky dependency: an HTTP handler whose latency
// and failures follow the schedule's phase.
//
//	healthy, recovery  30–80 ms, 1 % errors
//	latency-spike      350–900 ms, 2 % errors
//	outage             every call fails: half at once with 503, half hang
//	                   until the caller gives up
//
// Its randomness comes from one seeded source, so a run with the same seed
// and rate draws the same sequence of outcomes.
type payments struct {
	phase func() phase

	mu  sync.Mutex
	rng *rand.Rand
}

func newPayments(seed uint64, phase func() phase) *payments {
	return &payments{phase: phase, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// outcome is what one payments call will do.
type outcome struct {
	delay time.Duration
	fail  bool // answer 503 after delay
	hang  bool // never answer; wait for the caller to give up
}

func (p *payments) draw(ph phase) outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, v := p.rng.Float64(), p.rng.Float64()
	switch ph {
	case phaseSpike:
		return outcome{delay: ms(350 + 550*u), fail: v < 0.02}
	case phaseOutage:
		if v < 0.5 {
			return outcome{delay: ms(5 + 15*u), fail: true}
		}
		return outcome{hang: true}
	default:
		return outcome{delay: ms(30 + 50*u), fail: v < 0.01}
	}
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// ServeHTTP answers POST /pay.
func (p *payments) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := p.draw(p.phase())
	ctx := r.Context()
	if o.hang {
		<-ctx.Done()
		return
	}
	t := time.NewTimer(o.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if o.fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"payments unavailable"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"captured"}` + "\n"))
}
