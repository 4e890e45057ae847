package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestSummaryInterruptedEarly is Ctrl-C in the healthy phase: nothing
// happened yet, and the summary says so instead of printing an empty list
// and "not recovered: " with nothing after it.
func TestSummaryInterruptedEarly(t *testing.T) {
	closed := tripswitch.StateClosed
	s := &summary{
		Schedule: newSchedule(time.Minute), Elapsed: 5 * time.Second, Interrupted: true,
		Initial: map[string]tripswitch.State{breakerLatency: closed, breakerErrors: closed},
		Final:   map[string]tripswitch.BreakerStatus{breakerLatency: {State: closed}, breakerErrors: {State: closed}},
	}
	s.derive()
	var b strings.Builder
	writeSummary(&b, false, s)
	out := b.String()
	t.Logf("summary:\n%s", out)
	for _, bad := range []string{"not recovered: \n", "(seen by the client):\n\n", "(the server's event log):\n\n", "no breaker opened\n", "open in outage   none"} {
		if strings.Contains(out, bad) {
			t.Errorf("summary contains %q", bad)
		}
	}
	for _, want := range []string{
		"breaker transitions: none",
		"time to trip     not reached (interrupted at t=5.0s, in the healthy phase)",
		"open in outage   not reached",
		"time to recover  not reached",
		"result           interrupted after 5.0s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

// TestSummaryInterruptedInOutage: the transitions so far are listed, and
// only recovery is "not reached".
func TestSummaryInterruptedInOutage(t *testing.T) {
	open, closed := tripswitch.StateOpen, tripswitch.StateClosed
	s := &summary{
		Schedule: newSchedule(time.Minute), Elapsed: 30 * time.Second, Interrupted: true,
		Initial: map[string]tripswitch.State{breakerLatency: closed, breakerErrors: closed},
		Changes: []change{{At: 11 * time.Second, Breaker: breakerLatency, From: closed, To: open}},
		Final:   map[string]tripswitch.BreakerStatus{breakerLatency: {State: open}, breakerErrors: {State: closed}},
	}
	s.derive()
	var b strings.Builder
	writeSummary(&b, false, s)
	out := b.String()
	for _, want := range []string{
		"breaker transitions (seen by the client):\n    t=11.0s",
		"time to trip     1.0s after the latency spike began (payments-p95)",
		"open in outage   payments-p95",
		"time to recover  not reached (interrupted at t=30.0s, in the outage phase)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
