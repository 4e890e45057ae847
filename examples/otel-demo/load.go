package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// loadTimeout bounds one checkout request of the load generator.
const loadTimeout = 5 * time.Second

// tally counts checkout answers.
type tally struct {
	Paid, Fallback, Failed int
	latencies              []time.Duration
}

func (t tally) Requests() int { return t.Paid + t.Fallback + t.Failed }

// P95 is the nearest-rank 95th percentile of the answers' latencies, 0
// without answers.
func (t tally) P95() time.Duration {
	if len(t.latencies) == 0 {
		return 0
	}
	s := slices.Clone(t.latencies)
	slices.Sort(s)
	i := (95*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

func (t *tally) add(outcome string, d time.Duration) {
	switch outcome {
	case outcomePaid:
		t.Paid++
	case outcomeFallback:
		t.Fallback++
	default:
		t.Failed++
	}
	t.latencies = append(t.latencies, d)
}

func (t *tally) merge(o tally) {
	t.Paid += o.Paid
	t.Fallback += o.Fallback
	t.Failed += o.Failed
	t.latencies = append(t.latencies, o.latencies...)
}

// load drives checkout at a steady rate and keeps the answers per phase
// and since the last progress line.
type load struct {
	url   string
	http  *http.Client
	sched schedule

	mu       sync.Mutex
	interval tally            // since the last takeInterval
	phases   [numPhases]tally // whole run, by the phase the request started in
	inFlight sync.WaitGroup
}

// run sends rps requests a second until ctx is done or the schedule ends,
// then waits for the requests in flight.
func (l *load) run(ctx context.Context, start time.Time, rps int) {
	every := time.Second / time.Duration(rps)
	end := time.NewTimer(time.Until(start.Add(l.sched.total)))
	defer end.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	// Requests outlive ctx (so that answers in flight are counted) but not
	// the request timeout.
	reqCtx := context.WithoutCancel(ctx)
	for {
		l.inFlight.Add(1)
		go l.one(reqCtx, l.sched.at(time.Since(start)))
		select {
		case <-ctx.Done():
			l.inFlight.Wait()
			return
		case <-end.C:
			l.inFlight.Wait()
			return
		case <-tick.C:
		}
	}
}

func (l *load) one(ctx context.Context, ph phase) {
	defer l.inFlight.Done()
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	began := time.Now()
	outcome := outcomeFailed
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = l.http.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if o := resp.Header.Get(outcomeHeader); o != "" {
				outcome = o
			}
		}
	}
	took := time.Since(began)
	l.mu.Lock()
	l.interval.add(outcome, took)
	l.phases[ph].add(outcome, took)
	l.mu.Unlock()
}

// takeInterval returns the answers since the previous call.
func (l *load) takeInterval() tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.interval
	l.interval = tally{latencies: make([]time.Duration, 0, len(t.latencies))}
	return t
}

// byPhase returns the answers of the whole run by phase.
func (l *load) byPhase() [numPhases]tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [numPhases]tally
	for p := range numPhases {
		out[p] = l.phases[p]
		out[p].latencies = slices.Clone(l.phases[p].latencies)
	}
	return out
}
