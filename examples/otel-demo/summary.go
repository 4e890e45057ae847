package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/admin"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// summary is what a run did.
type summary struct {
	Schedule    schedule
	Elapsed     time.Duration // load time actually run
	Interrupted bool          // the run was cancelled before the schedule ended

	Phases   [numPhases]tally                    // checkout answers by phase
	Rejected map[string]int                      // rejected calls by reason
	Initial  map[string]tripswitch.State         // breaker states when the load started
	Changes  []change                            // state changes seen by the client
	Final    map[string]tripswitch.BreakerStatus // states when the load ended
	Events   []event                             // the server's transition log, when readable
	Samples  tripswitch.Stats                    // client counters after Close
	AtServer map[string]int                      // samples the local server holds, by metric
	Traced   int                                 // of those, samples that carry a trace ID
	OTLP     *otlpReport                         // nil when OTLP export is off

	// Derived by derive.
	Tripped       bool          // a breaker opened after the healthy phase
	TimeToTrip    time.Duration // from the start of the latency spike to the first open
	FirstTripped  string        // the breaker that opened first
	OpenInOutage  []string      // breakers open at some moment of the outage
	Recovered     bool          // every breaker was closed at some moment of the recovery phase
	TimeToRecover time.Duration // from the start of recovery to the first such moment
}

// event is one transition from the server's event log.
type event struct {
	At       time.Duration // since the start of the load
	Breaker  string
	From, To string
	Reason   string
}

// OK reports the demo's success: a breaker opened during the outage, calls
// were answered by the fallback, and every breaker closed during recovery.
func (s *summary) OK() bool {
	return !s.Interrupted && len(s.OpenInOutage) > 0 && s.Recovered && s.fallbacks() > 0
}

func (s *summary) fallbacks() int {
	n := 0
	for _, t := range s.Phases {
		n += t.Fallback
	}
	return n
}

func (s *summary) derive() {
	spike := s.Schedule.start(phaseSpike)
	for _, c := range s.Changes {
		if c.To == tripswitch.StateOpen && c.At >= spike {
			s.Tripped, s.TimeToTrip, s.FirstTripped = true, c.At-spike, c.Breaker
			break
		}
	}
	s.OpenInOutage = nil
	from, to := s.Schedule.start(phaseOutage), min(s.Schedule.end(phaseOutage), s.Elapsed)
	for _, name := range breakerNames {
		if from < to && openDuring(s.Initial[name], s.Changes, name, from, to) {
			s.OpenInOutage = append(s.OpenInOutage, name)
		}
	}
	s.Recovered, s.TimeToRecover = false, 0
	if rec := s.Schedule.start(phaseRecovery); s.Elapsed > rec {
		s.TimeToRecover, s.Recovered = firstAllClosed(s.Initial, s.Changes, rec, s.Elapsed)
	}
}

// firstAllClosed replays changes (in time order) from the initial states
// and returns the first moment of [from, to) when every breaker of
// breakerNames was closed, relative to from.
func firstAllClosed(initial map[string]tripswitch.State, changes []change, from, to time.Duration) (time.Duration, bool) {
	states := make(map[string]tripswitch.State, len(breakerNames))
	for _, name := range breakerNames {
		states[name] = initial[name]
	}
	allClosed := func() bool {
		for _, st := range states {
			if st != tripswitch.StateClosed {
				return false
			}
		}
		return true
	}
	i := 0
	for ; i < len(changes) && changes[i].At < from; i++ {
		states[changes[i].Breaker] = changes[i].To
	}
	if allClosed() {
		return 0, true
	}
	for ; i < len(changes) && changes[i].At < to; i++ {
		states[changes[i].Breaker] = changes[i].To
		if allClosed() {
			return changes[i].At - from, true
		}
	}
	return 0, false
}

// serverEvents reads the transitions of the run from the server's event
// log; it returns nil when the log cannot be read.
func serverEvents(ctx context.Context, be *backend, start time.Time, ids map[string]string) []event {
	names := make(map[string]string, len(ids))
	for name, id := range ids {
		names[id] = name
	}
	var out []event
	for e, err := range be.Admin.ListEventsAll(ctx, be.ProjectID, admin.ListEventsParams{StartTime: start.Add(-time.Second)}) {
		if err != nil {
			return nil
		}
		name, ok := names[e.BreakerID]
		if !ok {
			continue
		}
		out = append(out, event{At: e.Timestamp.Sub(start), Breaker: name, From: string(e.FromState), To: string(e.ToState), Reason: e.Reason})
	}
	slices.SortStableFunc(out, func(a, b event) int { return int(a.At - b.At) })
	return out
}

// writeSummary prints the summary block.
func writeSummary(w io.Writer, p painter, s *summary) {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("")
	line("%s", p.paint(ansiBold, "summary"))
	line("  %-14s %8s %6s %9s %7s %7s", "phase", "requests", "paid", "fallback", "failed", "p95")
	for ph := range numPhases {
		t := s.Phases[ph]
		line("  %-14s %8d %6d %9d %7d %7s", ph, t.Requests(), t.Paid, t.Fallback, t.Failed, fmtMs(t.P95()))
	}
	line("")
	switch {
	case len(s.Events) > 0:
		line("  breaker transitions (the server's event log):")
		for _, e := range s.Events {
			line("    t=%-6s %-13s %-15s %-9s → %-9s %s", fmtSecs(e.At), s.Schedule.at(max(e.At, 0)), e.Breaker, e.From, e.To, e.Reason)
		}
	case len(s.Changes) > 0:
		line("  breaker transitions (seen by the client):")
		for _, c := range s.Changes {
			line("    t=%-6s %-13s %-15s %-9s → %s", fmtSecs(c.At), s.Schedule.at(c.At), c.Breaker, c.From, c.To)
		}
	default:
		line("  breaker transitions: none")
	}
	line("")
	// What an interrupted run did not reach is said plainly, not as a failure.
	notReached := func(ph phase) (string, bool) {
		if s.Interrupted && s.Elapsed <= s.Schedule.start(ph) {
			return fmt.Sprintf("not reached (interrupted at t=%s, in the %s phase)", fmtSecs(s.Elapsed), s.Schedule.at(s.Elapsed)), true
		}
		return "", false
	}
	switch msg, skipped := notReached(phaseSpike); {
	case s.Tripped:
		line("  %-16s %s after the latency spike began (%s)", "time to trip", fmtSecs(s.TimeToTrip), s.FirstTripped)
	case skipped:
		line("  %-16s %s", "time to trip", msg)
	case s.Interrupted:
		line("  %-16s %s", "time to trip", "no breaker opened before the interruption")
	default:
		line("  %-16s %s", "time to trip", p.paint(ansiRed, "no breaker opened"))
	}
	switch msg, skipped := notReached(phaseOutage); {
	case len(s.OpenInOutage) > 0:
		line("  %-16s %s", "open in outage", strings.Join(s.OpenInOutage, ", "))
	case skipped:
		line("  %-16s %s", "open in outage", msg)
	default:
		line("  %-16s %s", "open in outage", p.paint(ansiRed, "none"))
	}
	var notClosed []string // at the end of the load
	for _, name := range breakerNames {
		if st, ok := s.Final[name]; ok && st.State != tripswitch.StateClosed {
			notClosed = append(notClosed, name+"="+st.State.String())
		}
	}
	msg, skipped := notReached(phaseRecovery)
	switch {
	case skipped:
		line("  %-16s %s", "time to recover", msg)
	case !s.Recovered && len(notClosed) == 0:
		line("  %-16s %s", "time to recover", p.paint(ansiRed, "not recovered"))
	case s.Recovered && len(notClosed) > 0:
		line("  %-16s %s after recovery began: every breaker closed (at the end: %s)", "time to recover",
			fmtSecs(s.TimeToRecover), strings.Join(notClosed, ", "))
	case s.Recovered:
		line("  %-16s %s after recovery began: every breaker closed", "time to recover", fmtSecs(s.TimeToRecover))
	default:
		line("  %-16s %s", "time to recover", p.paint(ansiRed, "not recovered: "+strings.Join(notClosed, ", ")))
	}
	rejected := s.Rejected["open"] + s.Rejected["throttled"] + s.Rejected["unavailable"]
	line("  %-16s %d (open %d, throttled %d, unavailable %d), %d answered by the fallback", "rejected calls",
		rejected, s.Rejected["open"], s.Rejected["throttled"], s.Rejected["unavailable"], s.fallbacks())
	line("  %-16s produced %d = delivered %d + dropped %d + buffered %d", "samples",
		s.Samples.Produced, s.Samples.Delivered, s.Samples.Dropped, s.Samples.Buffered)
	if s.AtServer != nil {
		line("  %-16s %s %d (transport), %s %d (span processor), %s %d (metric exporter); %d carry a trace ID", "at the server",
			latencyMetric, s.AtServer[latencyMetric], spanMetric, s.AtServer[spanMetric], exporterMetric, s.AtServer[exporterMetric], s.Traced)
	}
	if o := s.OTLP; o != nil && o.Last != nil {
		line("  %-16s %s", "otlp", p.paint(ansiYellow, fmt.Sprintf("%d of %d exports failed (last error: %v); the result does not depend on it", o.Failures, o.Exports, o.Last)))
	}
	switch {
	case s.Interrupted:
		line("  %-16s %s", "result", p.paint(ansiYellow, fmt.Sprintf("interrupted after %s", fmtSecs(s.Elapsed))))
	case s.OK():
		line("  %-16s %s", "result", p.paint(ansiGreen, "PASS: a breaker opened during the outage, calls got the fallback, all closed after recovery"))
	default:
		line("  %-16s %s", "result", p.paint(ansiRed, "FAIL: the breakers did not trip and recover as expected"))
	}
	_, _ = io.WriteString(w, b.String())
}

// headerInfo is what writeHeader shows.
type headerInfo struct {
	cfg         config
	sched       schedule
	backend     *backend
	routerID    string
	specs       []admin.CreateBreakerInput
	provisioned bool
	checkoutURL string
	metricsURL  string
	notes       []string // why an address differs from the one asked for
}

// writeHeader prints where everything is before the load starts.
func writeHeader(w io.Writer, p painter, h headerInfo) {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("%s", p.paint(ansiBold, fmt.Sprintf("Tripswitch + OpenTelemetry demo: checkout → payments at %d req/s for %v", h.cfg.RPS, h.cfg.Duration)))
	line("  %-9s %s", "server", h.backend.describe())
	if l := h.backend.Local; l != nil { // in-process and loopback only: the key lives as long as the demo
		line("  %-9s %s/ (admin key %s)", "console", l.Credentials().BaseURL, l.Credentials().AdminKey)
	}
	line("  %-9s %s (%s) fed by the tripswitchhttp transport (%q), spans (%q) and the metric exporter (%q)", "router", routerName, h.routerID, latencyMetric, spanMetric, exporterMetric)
	for _, s := range h.specs {
		if h.provisioned {
			line("  %-9s %s: %s", "breaker", s.Name, describeBreaker(s))
		} else {
			line("  %-9s %s (existing configuration)", "breaker", s.Name)
		}
	}
	line("  %-9s %s", "checkout", h.checkoutURL)
	if h.metricsURL != "" {
		line("  %-9s %s", "metrics", h.metricsURL)
	}
	for _, n := range h.notes {
		if n != "" {
			line("  %-9s %s", "note", n)
		}
	}
	if h.cfg.OTLP {
		line("  %-9s traces and metrics over OTLP/HTTP (OTEL_EXPORTER_OTLP_*)", "otlp")
	} else {
		line("  %-9s off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces and metrics)", "otlp")
	}
	line("  %-9s %s", "schedule", h.sched)
	line("")
	_, _ = io.WriteString(w, b.String())
}
