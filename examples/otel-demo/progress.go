package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// ANSI colours, used only when the output is a terminal and NO_COLOR is
// unset.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// painter colours text when enabled.
type painter bool

func (p painter) paint(color, s string) string {
	if !p {
		return s
	}
	return color + s + ansiReset
}

func (p painter) state(st tripswitch.BreakerStatus) string {
	switch st.State {
	case tripswitch.StateOpen:
		return p.paint(ansiRed, "open")
	case tripswitch.StateHalfOpen:
		return p.paint(ansiYellow, fmt.Sprintf("half_open(%.2f)", st.AllowRate))
	default:
		return p.paint(ansiGreen, "closed")
	}
}

// phase renders a phase name padded to a fixed width.
func (p painter) phase(ph phase) string {
	s := fmt.Sprintf("%-13s", ph)
	switch ph {
	case phaseHealthy, phaseRecovery:
		return p.paint(ansiGreen, s)
	case phaseSpike:
		return p.paint(ansiYellow, s)
	default:
		return p.paint(ansiRed, s)
	}
}

// progressLine renders one second of the run, e.g.
//
//	t=12s phase=outage rps=50 ok=12 fallback=38 failed=0 p95=812ms payments-p95=open payments-errors=open
func progressLine(p painter, at time.Duration, ph phase, t tally, states map[string]tripswitch.BreakerStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%-3s phase=%s rps=%-3d ok=%-3d fallback=%-3d failed=%-3d p95=%-6s",
		fmt.Sprintf("%ds", int(at.Round(time.Second)/time.Second)), p.phase(ph), t.Requests(),
		t.Paid, t.Fallback, t.Failed, fmtMs(t.P95()))
	for _, name := range breakerNames {
		st, ok := states[name]
		if !ok {
			st = tripswitch.BreakerStatus{Name: name, State: tripswitch.StateClosed, AllowRate: 1}
		}
		fmt.Fprintf(&b, " %s=%s", name, p.state(st))
	}
	return b.String()
}

// fmtMs renders a latency in milliseconds (a tenth below 10 ms), "-" for
// none.
func fmtMs(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// fmtSecs renders a time in the run with a tenth of a second.
func fmtSecs(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func writeLine(w io.Writer, s string) {
	_, _ = io.WriteString(w, s+"\n")
}
