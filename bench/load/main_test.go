package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRunDeliversEverySample runs the load core briefly at a rate the
// delivery path keeps up with, so that every sample must arrive.
func TestRunDeliversEverySample(t *testing.T) {
	var out bytes.Buffer
	res, err := run(context.Background(), Config{
		Duration:    time.Second,
		Goroutines:  2,
		SampleEvery: 8,
		Rate:        2000,
	}, &out)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("\n%s", out.String())

	if res.Calls == 0 {
		t.Fatal("no calls were made")
	}
	if res.Errors != 0 {
		t.Errorf("%d calls failed, first: %v", res.Errors, res.FirstError)
	}
	if res.Pairs == 0 || res.Direct.P50 <= 0 || res.Execute.P50 <= 0 {
		t.Errorf("no timings: pairs %d, direct %+v, execute %+v", res.Pairs, res.Direct, res.Execute)
	}
	for name, s := range map[string]struct{ produced, delivered, dropped, buffered uint64 }{
		"at end":      {res.AtEnd.Produced, res.AtEnd.Delivered, res.AtEnd.Dropped, uint64(res.AtEnd.Buffered)},
		"after Close": {res.AfterClose.Produced, res.AfterClose.Delivered, res.AfterClose.Dropped, uint64(res.AfterClose.Buffered)},
	} {
		if s.produced != s.delivered+s.dropped+s.buffered {
			t.Errorf("stats %s: produced %d != delivered %d + dropped %d + buffered %d", name, s.produced, s.delivered, s.dropped, s.buffered)
		}
	}
	a := res.AfterClose
	if a.Produced != res.Calls {
		t.Errorf("produced %d samples for %d calls with one metric each", a.Produced, res.Calls)
	}
	if a.Dropped != 0 || a.Buffered != 0 || a.Delivered != a.Produced {
		t.Errorf("after Close: produced %d, delivered %d, dropped %d, buffered %d; want everything delivered", a.Produced, a.Delivered, a.Dropped, a.Buffered)
	}
	if res.CloseErr != nil {
		t.Errorf("Close: %v", res.CloseErr)
	}
	if res.Accepted != a.Delivered {
		t.Errorf("the server accepted %d samples, the client counts %d delivered", res.Accepted, a.Delivered)
	}
	if uint64(res.ServerKept) != a.Delivered {
		t.Errorf("the server kept %d samples, the client delivered %d", res.ServerKept, a.Delivered)
	}
	for _, want := range []string{"calls/s", "Execute overhead", "samples/s", "peak RSS", "GOMAXPROCS", "competes with the callers"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRunPrepared(t *testing.T) {
	res, err := run(context.Background(), Config{
		Duration:    200 * time.Millisecond,
		Goroutines:  2,
		Prepared:    true,
		SampleEvery: 4,
		Rate:        1000,
	}, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Calls == 0 || res.Errors != 0 {
		t.Fatalf("calls %d, errors %d (first: %v)", res.Calls, res.Errors, res.FirstError)
	}
	if a := res.AfterClose; a.Produced != res.Calls || a.Delivered != a.Produced {
		t.Errorf("after Close: %d calls, produced %d, delivered %d", res.Calls, a.Produced, a.Delivered)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    Config
		wantErr string
	}{
		{args: nil, want: DefaultConfig()},
		{
			args: []string{"-duration", "5s", "-goroutines", "3", "-prepared", "-sample-every", "16", "-rate", "500"},
			want: Config{Duration: 5 * time.Second, Goroutines: 3, Prepared: true, SampleEvery: 16, Rate: 500},
		},
		{args: []string{"-duration", "0s"}, wantErr: "duration must be positive"},
		{args: []string{"-goroutines", "0"}, wantErr: "goroutines must be positive"},
		{args: []string{"-sample-every", "-1"}, wantErr: "sample-every must be positive"},
		{args: []string{"-rate", "-5"}, wantErr: "rate must not be negative"},
		{
			args: []string{"-server", "/bin/tripswitch-local", "-buffer", "100000"},
			want: Config{Duration: 30 * time.Second, Goroutines: 8, SampleEvery: 64, Server: "/bin/tripswitch-local", Buffer: 100_000},
		},
		{args: []string{"-buffer", "-1"}, wantErr: "buffer must not be negative"},
		{args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{args: []string{"-nope"}, wantErr: "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			got, _, err := parseFlags(tt.args, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(stderr.String(), tt.wantErr) {
					t.Fatalf("err %v, stderr %q; want an error mentioning %q", err, stderr.String(), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v (%s)", err, stderr.String())
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSummarizeWeightsByPairsSeen(t *testing.T) {
	// One caller kept 2 of 900 pairs (each stands for 450), the other
	// kept all its 100: the median comes from the first caller, the 99th
	// percentile from the second. Unweighted, both would come from the
	// second.
	a := newPairs(1)
	b := newPairs(2)
	a.add(100, 300)
	a.add(100, 300)
	a.seen = 900
	for range 100 {
		b.add(1000, 5000)
	}
	direct, exec, overhead, seen := summarize([]*pairs{a, b})
	if seen != 1000 {
		t.Errorf("seen %d, want 1000", seen)
	}
	if direct.P50 != 100 || exec.P50 != 300 || overhead.P50 != 200 {
		t.Errorf("p50 direct %v exec %v overhead %v; want 100ns 300ns 200ns", direct.P50, exec.P50, overhead.P50)
	}
	if direct.P99 != 1000 || overhead.P99 != 4000 {
		t.Errorf("p99 direct %v overhead %v; want 1µs 4µs", direct.P99, overhead.P99)
	}
}

func TestPairsKeepsAUniformSample(t *testing.T) {
	p := newPairs(7)
	const n = 10 * reservoirSize
	for i := range n {
		p.add(time.Duration(i), time.Duration(i))
	}
	if len(p.direct) != reservoirSize || p.seen != n {
		t.Fatalf("kept %d of %d, want %d", len(p.direct), p.seen, reservoirSize)
	}
	// A uniform sample of 0..n-1 has about half its values in the upper
	// half; a reservoir that stopped replacing would have none.
	upper := 0
	for _, v := range p.direct {
		if v >= n/2 {
			upper++
		}
	}
	if upper < reservoirSize/3 || upper > 2*reservoirSize/3 {
		t.Errorf("%d of %d kept values in the upper half; want about half", upper, reservoirSize)
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", 100000: "100,000"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPeakRSS(t *testing.T) {
	got := peakRSS()
	if got == 0 || got < -1 {
		t.Fatalf("peakRSS() = %d; want a positive size or -1", got)
	}
}

// TestRunAgainstServerProcess runs the load core against tripswitch-local
// in a process of its own, built for the test: every sample arrives, and
// the report prints the delivery rate.
func TestRunAgainstServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tripswitch-local")
	}
	bin := filepath.Join(t.TempDir(), "tripswitch-local")
	build := exec.Command("go", "build", "-o", bin, "github.com/tripswitch-otel/tripswitch-go/cmd/tripswitch-local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	res, err := run(context.Background(), Config{
		Duration:    time.Second,
		Goroutines:  2,
		SampleEvery: 8,
		Rate:        2000,
		Server:      bin,
	}, &out)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("\n%s", out.String())
	a := res.AfterClose
	if res.Calls == 0 || a.Produced != res.Calls || a.Delivered != a.Produced || a.Dropped != 0 || res.Accepted != a.Delivered {
		t.Fatalf("calls %d; after Close produced %d, delivered %d, dropped %d; accepted %d: want every sample delivered",
			res.Calls, a.Produced, a.Delivered, a.Dropped, res.Accepted)
	}
	for _, want := range []string{"in a process of its own", "samples/s sustained, 0 dropped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestParseExports(t *testing.T) {
	got := parseExports("export A=plain\nexport B='it'\\''s'\nnot a line\n")
	if got["A"] != "plain" || got["B"] != "it's" || len(got) != 2 {
		t.Fatalf("parseExports = %v", got)
	}
}
