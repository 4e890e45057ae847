package tripswitch

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logInterval is the shortest time between two log records of the same
// repeated problem.
const logInterval = time.Minute

// defaultLogger is slog.Default() as it is when the client is built, with
// records below WARN left out.
func defaultLogger() *slog.Logger {
	return slog.New(minLevelHandler{h: slog.Default().Handler(), min: slog.LevelWarn})
}

// minLevelHandler passes on records at min and above.
type minLevelHandler struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}

func (m minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return m.h.Handle(ctx, r)
}

func (m minLevelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevelHandler{h: m.h.WithAttrs(as), min: m.min}
}

func (m minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{h: m.h.WithGroup(name), min: m.min}
}

// logLimiter lets a repeated problem be logged at most once per interval;
// the record says how often it happened since the previous one. Its zero
// value is ready to use.
type logLimiter struct {
	mu   sync.Mutex
	seen map[string]*logSeen
}

type logSeen struct {
	last       time.Time // when it was last logged
	suppressed int       // occurrences since then
}

// maxLogKeys bounds the problems remembered; beyond it they are forgotten
// and logged again.
const maxLogKeys = 256

// allow reports whether the problem key may be logged at now, and how many
// of its occurrences were left out since it was last logged.
func (l *logLimiter) allow(key string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil || len(l.seen) >= maxLogKeys {
		l.seen = make(map[string]*logSeen)
	}
	e := l.seen[key]
	if e == nil {
		l.seen[key] = &logSeen{last: now}
		return true, 0
	}
	if now.Sub(e.last) < logInterval {
		e.suppressed++
		return false, 0
	}
	suppressed = e.suppressed
	e.last, e.suppressed = now, 0
	return true, suppressed
}

// logEvery logs msg at level unless the problem key was logged less than
// logInterval ago; the record then carries "repeated", the occurrences
// left out since.
func (c *Client) logEvery(level slog.Level, key, msg string, args ...any) {
	if !c.logger.Enabled(context.Background(), level) {
		return
	}
	ok, suppressed := c.logs.allow(key, time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "repeated", suppressed)
	}
	c.logger.Log(context.Background(), level, msg, args...)
}
