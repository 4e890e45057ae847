package tripswitch

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStrHashReadsEveryByte: for strings of up to 16 bytes, which strHash
// mixes without maphash, changing any one byte changes the hash, so keys
// that differ anywhere land on different probe sequences.
func TestStrHashReadsEveryByte(t *testing.T) {
	for n := 1; n <= 16; n++ {
		base := strings.Repeat("a", n)
		h := strHash(base)
		for i := range n {
			b := []byte(base)
			b[i] = 'b'
			if strHash(string(b)) == h {
				t.Errorf("length %d: changing byte %d leaves the hash unchanged", n, i)
			}
		}
		if strHash(base+"a") == h {
			t.Errorf("length %d: appending a byte leaves the hash unchanged", n)
		}
	}
}

// TestCachedCallsPinBoundedCells: a cached call pins its breaker's cell,
// and past the cache's bound further names pin nothing, so a program that
// builds breaker names per request cannot grow the state cache.
func TestCachedCallsPinBoundedCells(t *testing.T) {
	c, err := NewClient(context.Background(), "proj_pins",
		WithBaseURL("http://127.0.0.1:1"),
		WithStartupTimeout(time.Millisecond),
		WithFlushInterval(time.Hour),
		WithMetadataSyncInterval(0),
		WithLogger(slog.New(slog.DiscardHandler)),
	)
	if c == nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = c.Close(ctx)
	})
	c.SetState("known", StateClosed, 1)
	for i := range 3 * maxCachedCalls {
		_, _ = Execute(c, context.Background(), func() (int, error) { return 0, nil },
			WithBreakers("b-"+strconv.Itoa(i)), WithRouter("rtr"), WithMetric("latency", Latency))
	}
	pinned := 0
	c.states.each(func(_ string, cell *breakerCell) {
		if cell.pinned {
			pinned++
		}
	})
	if pinned != maxCachedCalls {
		t.Fatalf("%d pinned cells after %d distinct cached calls, want %d", pinned, 3*maxCachedCalls, maxCachedCalls)
	}
}

// TestWithMetricsBeyondKnownNames: one-entry WithMetrics maps give the
// metric they name, whether or not the name is among those tried first.
func TestWithMetricsBeyondKnownNames(t *testing.T) {
	for round := range 2 {
		for i := range 2 * knownNames {
			name := "wm-" + strconv.Itoa(i)
			var cfg callConfig
			cfg = WithMetrics(map[string]any{name: float64(i + round)}).applyCall(cfg)
			if len(cfg.metrics) != 1 {
				t.Fatalf("%s: %d metrics", name, len(cfg.metrics))
			}
			if m := cfg.metrics[0]; m.name != name || m.kind != metricConst || m.value != float64(i+round) {
				t.Fatalf("%s = %v: got %+v", name, i+round, m)
			}
		}
	}
}
