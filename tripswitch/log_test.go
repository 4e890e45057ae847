package tripswitch

import (
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	var l logLimiter
	t0 := time.Unix(1_764_201_600, 0)
	steps := []struct {
		key        string
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"b", time.Second, true, 0}, // another problem: its own interval
		{"a", 30 * time.Second, false, 0},
		{"a", logInterval, true, 2}, // once per interval, with the count
		{"a", logInterval + time.Second, false, 0},
		{"a", 3 * logInterval, true, 1},
	}
	for i, s := range steps {
		ok, n := l.allow(s.key, t0.Add(s.at))
		if ok != s.ok || n != s.suppressed {
			t.Fatalf("step %d (%s at %v): allow = %v, %d; want %v, %d", i, s.key, s.at, ok, n, s.ok, s.suppressed)
		}
	}
}
