package tripswitch

import "sync"

type stateChange struct {
	name     string
	from, to State
}

// dispatcher delivers state-change callbacks in order from one goroutine,
// so that a slow callback never holds up the state stream.
type dispatcher struct {
	c     *Client
	mu    sync.Mutex
	queue []stateChange
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newDispatcher(c *Client) *dispatcher {
	return &dispatcher{c: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *dispatcher) enqueue(ch stateChange) {
	if len(d.c.onState) == 0 {
		return
	}
	d.mu.Lock()
	d.queue = append(d.queue, ch)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	for {
		select {
		case <-d.wake:
			d.drain()
		case <-d.done:
			d.drain()
			return
		}
	}
}

func (d *dispatcher) drain() {
	for {
		d.mu.Lock()
		q := d.queue
		d.queue = nil
		d.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, ch := range q {
			for _, fn := range d.c.onState {
				d.c.safely("StateChange hook", func() { fn(ch.name, ch.from, ch.to) })
			}
		}
	}
}

// stop makes run deliver what is queued and return.
func (d *dispatcher) stop() { d.once.Do(func() { close(d.done) }) }
