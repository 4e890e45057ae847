package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func mode(cfg Config) string {
	if cfg.Prepared {
		return "prepared (tripswitch.Prepare once, Call.Execute per call)"
	}
	return "Execute (options passed on every call)"
}

func writeHeader(w io.Writer, cfg Config) {
	rate := "unlimited"
	if cfg.Rate > 0 {
		rate = strconv.FormatFloat(cfg.Rate, 'f', -1, 64) + " calls/s"
	}
	buffer := cfg.Buffer
	if buffer == 0 {
		buffer = tripswitch.DefaultBufferCapacity
	}
	fmt.Fprintf(w, "tripswitch load run: %s, %d goroutines, %v, rate %s, buffer %d samples\n", mode(cfg), cfg.Goroutines, cfg.Duration, rate, buffer)
	fmt.Fprintf(w, "go %s %s/%s, GOMAXPROCS %d, NumCPU %d, tripswitch %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), tripswitch.Version)
	if cfg.Server != "" {
		fmt.Fprintf(w, "server: %s in a process of its own, over loopback (it shares the machine's CPUs with this one)\n", cfg.Server)
	} else {
		fmt.Fprintln(w, "note: the local server runs in this process over loopback and competes with the callers for the same CPUs")
	}
}

func writeResult(w io.Writer, r Result) {
	row := func(name, format string, args ...any) {
		fmt.Fprintf(w, "  %-20s "+format+"\n", append([]any{name}, args...)...)
	}
	row("elapsed", "%v", r.Elapsed.Round(time.Millisecond))
	row("calls", "%s (%s calls/s)", group(r.Calls), groupF(r.CallsPerSecond()))
	errs := group(r.Errors)
	if r.FirstError != nil {
		errs += fmt.Sprintf(" (first: %v)", r.FirstError)
	}
	row("errors", "%s", errs)
	row("task direct", "p50 %-10v p99 %v", r.Direct.P50, r.Direct.P99)
	row("task via Execute", "p50 %-10v p99 %v", r.Execute.P50, r.Execute.P99)
	row("Execute overhead", "p50 %-10v p99 %v  (paired difference, %s pairs, every %d calls per goroutine)",
		r.Overhead.P50, r.Overhead.P99, group(r.Pairs), r.SampleEvery)
	s := r.AtEnd
	row("stats at end", "produced %s, delivered %s, dropped %s, buffered %d", group(s.Produced), group(s.Delivered), group(s.Dropped), s.Buffered)
	row("accepted at end", "%s samples in 2xx batches (%s samples/s)", group(r.AcceptedAtEnd), groupF(r.DeliveredPerSecond()))
	a := r.AfterClose
	row("stats after Close", "produced %s, delivered %s, dropped %s, buffered %d", group(a.Produced), group(a.Delivered), group(a.Dropped), a.Buffered)
	row("accepted after Close", "%s samples in 2xx batches", group(r.Accepted))
	if r.Accepted != a.Delivered {
		row("", "differs from Stats.Delivered by %s: batches overwritten in the full buffer while in flight count as dropped", groupF(float64(r.Accepted)-float64(a.Delivered)))
	}
	if r.CloseErr != nil {
		row("close error", "%v", r.CloseErr)
	}
	row("batches", "%s attempts, %s failed, request time p50 %v p99 %v", group(r.Batches), group(a.FlushFailures), r.BatchTime.P50.Round(time.Microsecond), r.BatchTime.P99.Round(time.Microsecond))
	if r.ServerKept >= 0 {
		row("server kept", "%s samples (keeps the most recent %s)", group(uint64(r.ServerKept)), group(serverSampleLimit))
	}
	row("delivered", "%s samples/s sustained, %s dropped", groupF(r.DeliveredPerSecond()), group(a.Dropped))
	rss := "n/a"
	if r.PeakRSS >= 0 {
		rss = fmt.Sprintf("%.1f MiB (VmHWM, this process)", float64(r.PeakRSS)/(1<<20))
	}
	row("peak RSS", "%s", rss)
}

// group formats n with thousands separators.
func group(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

func groupF(f float64) string {
	if f < 0 {
		return "-" + group(uint64(-f+0.5))
	}
	return group(uint64(f + 0.5))
}
