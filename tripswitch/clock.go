package tripswitch

import (
	"sync/atomic"
	"time"
)

// anchor turns monotonic offsets into wall-clock timestamps with one clock
// read per measurement: a task's start and duration come from two
// monotonic reads instead of three wall+monotonic ones. The flusher
// re-anchors regularly so that wall-clock steps are picked up.
type anchor struct {
	base   time.Time // carries a monotonic reading
	baseNs int64     // base as Unix nanoseconds
	fake   func() time.Time
}

func newAnchor(now func() time.Time, fake bool) *anchor {
	t := now()
	a := &anchor{base: t, baseNs: t.UnixNano()}
	if fake {
		a.fake = now
	}
	return a
}

// offset is the monotonic time since the anchor.
func (a *anchor) offset() time.Duration {
	if a.fake != nil {
		return a.fake().Sub(a.base)
	}
	return time.Since(a.base)
}

// wallNs converts an offset to Unix nanoseconds.
func (a *anchor) wallNs(off time.Duration) int64 {
	return a.baseNs + int64(off)
}

type clockRef = atomic.Pointer[anchor]

func (c *Client) reanchor() {
	c.clock.Store(newAnchor(c.cfg.now, c.cfg.fakeClock))
}
