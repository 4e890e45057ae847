package tripswitch

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

type stateChange struct {
	name     string
	from, to State
}

// maxQueuedChanges is the length of the state-change queue beyond which
// changes of a breaker already queued are merged (see Hooks.StateChange).
const maxQueuedChanges = 1024

// dispatcher delivers state-change callbacks in order from one goroutine,
// so that a slow callback never holds up the state stream. Its queue holds
// at most maxQueuedChanges changes, or one per breaker beyond that.
type dispatcher struct {
	c         *Client
	hooks     hookRunner
	coalesced atomic.Uint64

	mu     sync.Mutex
	queue  []stateChange
	latest map[string]int // index in queue of each breaker's last change
	spare  []stateChange  // the previous queue, reused by drain

	wake    chan struct{}
	*worker // runs run; started by Client.start
}

func newDispatcher(c *Client) *dispatcher {
	return &dispatcher{c: c, latest: map[string]int{}, wake: make(chan struct{}, 1)}
}

func (d *dispatcher) enqueue(ch stateChange) {
	if len(d.c.onState) == 0 {
		return
	}
	d.mu.Lock()
	if i, ok := d.latest[ch.name]; ok && len(d.queue) >= maxQueuedChanges {
		d.queue[i].to = ch.to
		d.mu.Unlock()
		d.coalesced.Add(1)
		d.c.logEvery(slog.LevelWarn, "state-change-coalesced",
			"tripswitch: StateChange hook is slow; queued state changes are merged", "queued", maxQueuedChanges)
		return
	}
	d.latest[ch.name] = len(d.queue)
	d.queue = append(d.queue, ch)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run delivers queued changes until ctx ends, then delivers what is
// queued and returns.
func (d *dispatcher) run(ctx context.Context) {
	for {
		select {
		case <-d.wake:
			d.drain()
		case <-ctx.Done():
			d.drain()
			return
		}
	}
}

func (d *dispatcher) drain() {
	for {
		d.mu.Lock()
		q := d.queue
		d.queue = d.spare[:0]
		d.spare = nil
		clear(d.latest)
		d.mu.Unlock()
		if len(q) == 0 {
			d.mu.Lock()
			d.spare = q
			d.mu.Unlock()
			return
		}
		for _, ch := range q {
			if ch.from == ch.to { // merged changes that ended where they began
				continue
			}
			for _, fn := range d.c.onState {
				d.hooks.call(d.c, "StateChange hook", func() { fn(ch.name, ch.from, ch.to) })
			}
		}
		clear(q)
		d.mu.Lock()
		if cap(q) <= 2*maxQueuedChanges { // a queue grown past one per breaker is let go
			d.spare = q[:0]
		}
		d.mu.Unlock()
	}
}
