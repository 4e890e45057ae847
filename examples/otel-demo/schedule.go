package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/admin"
)

// phase is one stage of the demo's story.
type phase int

const (
	phaseHealthy phase = iota
	phaseSpike
	phaseOutage
	phaseRecovery
	numPhases
)

func (p phase) String() string {
	switch p {
	case phaseHealthy:
		return "healthy"
	case phaseSpike:
		return "latency-spike"
	case phaseOutage:
		return "outage"
	case phaseRecovery:
		return "recovery"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// phaseShares are the phases' shares of the whole schedule, in sixtieths:
// 10 s, 15 s, 15 s and 20 s of the default minute.
var phaseShares = [numPhases]int{10, 15, 15, 20}

// schedule maps time since the start of the load to a phase, and scales the
// breakers' timing with the schedule's length so that a compressed run
// tells the same story.
type schedule struct {
	total  time.Duration
	starts [numPhases + 1]time.Duration // starts[numPhases] == total
}

func newSchedule(total time.Duration) schedule {
	s := schedule{total: total}
	var acc int
	for p := range numPhases {
		s.starts[p] = total * time.Duration(acc) / 60
		acc += phaseShares[p]
	}
	s.starts[numPhases] = total
	return s
}

// at returns the phase at elapsed time d (the last phase after the end).
func (s schedule) at(d time.Duration) phase {
	for p := numPhases - 1; p > 0; p-- {
		if d >= s.starts[p] {
			return p
		}
	}
	return phaseHealthy
}

// start and end of phase p, relative to the start of the load.
func (s schedule) start(p phase) time.Duration { return s.starts[p] }
func (s schedule) end(p phase) time.Duration   { return s.starts[p+1] }

// String describes the schedule, e.g. "healthy 10s → latency-spike 15s → …".
func (s schedule) String() string {
	parts := make([]string, 0, numPhases)
	for p := range numPhases {
		parts = append(parts, fmt.Sprintf("%s %v", p, (s.end(p)-s.start(p)).Round(100*time.Millisecond)))
	}
	return strings.Join(parts, " → ")
}

// scaled returns d scaled from the default one-minute schedule to s,
// rounded to milliseconds and never below min.
func (s schedule) scaled(d, min time.Duration) time.Duration {
	v := time.Duration(float64(d) * float64(s.total) / float64(time.Minute)).Round(time.Millisecond)
	return max(v, min)
}

// The dependency, its router and its breakers.
const (
	routerName         = "payments"
	breakerLatency     = "payments-p95"
	breakerErrors      = "payments-errors"
	latencyMetric      = "latency"
	latencyThreshold   = 300  // milliseconds
	errorRateThreshold = 0.25 // share of failed calls
	minCount           = 10   // samples before a window is judged
)

// breakerNames lists the breakers every payments call is gated on.
var breakerNames = []string{breakerLatency, breakerErrors}

// breakers returns the payments breakers, their timing scaled to s: at the
// default minute, a 5 s window evaluated every 250 ms, a 4 s cooldown and
// a 2 s half-open confirmation at allow rate 0.5. The window never shrinks
// below 2 s, so that a half-open breaker gathers min_count samples even
// when a busy machine slows the load down.
func (s schedule) breakers() []admin.CreateBreakerInput {
	common := func(in admin.CreateBreakerInput) admin.CreateBreakerInput {
		in.Metric = latencyMetric
		in.WindowMs = s.scaled(5*time.Second, 2*time.Second).Milliseconds()
		in.EvalIntervalMs = s.scaled(250*time.Millisecond, 100*time.Millisecond).Milliseconds()
		in.CooldownMs = s.scaled(4*time.Second, 500*time.Millisecond).Milliseconds()
		in.HalfOpenConfirmationMs = s.scaled(2*time.Second, 300*time.Millisecond).Milliseconds()
		in.MinCount = minCount
		in.RecoveryAllowRateRampSteps = 2
		in.HalfOpenIndeterminatePolicy = admin.PolicyConservative
		in.Metadata = map[string]string{"dependency": "payments", "created_by": "otel-demo"}
		return in
	}
	return []admin.CreateBreakerInput{
		common(admin.CreateBreakerInput{
			Name:      breakerLatency,
			Kind:      admin.KindP95,
			Op:        admin.OpGt,
			Threshold: latencyThreshold,
		}),
		common(admin.CreateBreakerInput{
			Name:      breakerErrors,
			Kind:      admin.KindErrorRate,
			Op:        admin.OpGt,
			Threshold: errorRateThreshold,
		}),
	}
}

// describeBreaker renders a breaker's rule for people, e.g.
// "p95(latency) > 300 over 5s".
func describeBreaker(b admin.CreateBreakerInput) string {
	return fmt.Sprintf("%s(%s) %s %g over %v, cooldown %v", b.Kind, b.Metric, opSymbol(b.Op), b.Threshold,
		time.Duration(b.WindowMs)*time.Millisecond, time.Duration(b.CooldownMs)*time.Millisecond)
}

func opSymbol(op admin.Op) string {
	switch op {
	case admin.OpGt:
		return ">"
	case admin.OpGte:
		return ">="
	case admin.OpLt:
		return "<"
	case admin.OpLte:
		return "<="
	}
	return string(op)
}
