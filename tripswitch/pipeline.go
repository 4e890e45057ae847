package tripswitch

import (
	"sync"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

// pipeline is the bounded sample buffer between producers and the flusher.
//
// Samples live in a ring addressed by monotonically increasing sequence
// numbers. The flusher copies the oldest samples out, sends them, and only
// then advances the head, so a batch that fails stays queued and is retried
// oldest first. When the ring is full a new sample overwrites the oldest one,
// which is counted as dropped, even if it belongs to a batch in flight.
//
// At every moment, under mu: produced = delivered + dropped + (tail - head).
type pipeline struct {
	mu        sync.Mutex
	ring      []wire.Sample
	head      uint64 // sequence of the oldest buffered sample
	tail      uint64 // sequence of the next sample
	headPos   int    // ring index of head
	tailPos   int    // ring index of tail
	produced  uint64
	delivered uint64
	dropped   uint64
	closed    bool // intake stopped: new samples are counted as dropped

	batchSize int
	notify    chan struct{} // signals the flusher that a full batch is ready
}

func newPipeline(capacity, batchSize int) *pipeline {
	return &pipeline{
		ring:      make([]wire.Sample, capacity),
		batchSize: batchSize,
		notify:    make(chan struct{}, 1),
	}
}

// push queues one sample. It never blocks.
func (p *pipeline) push(s *wire.Sample) {
	p.mu.Lock()
	p.produced++
	if p.closed {
		p.dropped++
		p.mu.Unlock()
		return
	}
	if int(p.tail-p.head) == len(p.ring) {
		p.ring[p.headPos] = wire.Sample{}
		p.head++
		p.headPos = p.next(p.headPos)
		p.dropped++
	}
	p.ring[p.tailPos] = *s
	p.tail++
	p.tailPos = p.next(p.tailPos)
	full := int(p.tail-p.head) == p.batchSize
	p.mu.Unlock()
	if full {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}

// drop counts a sample that was produced but could not be queued.
func (p *pipeline) drop(n int) {
	p.mu.Lock()
	p.produced += uint64(n)
	p.dropped += uint64(n)
	p.mu.Unlock()
}

func (p *pipeline) next(i int) int {
	i++
	if i == len(p.ring) {
		return 0
	}
	return i
}

// peek copies up to max of the oldest samples into dst and returns the copy
// and the sequence just past the last copied sample.
func (p *pipeline) peek(dst []wire.Sample, max int) ([]wire.Sample, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := int(p.tail - p.head)
	if n > max {
		n = max
	}
	dst = dst[:0]
	pos := p.headPos
	for range n {
		dst = append(dst, p.ring[pos])
		pos = p.next(pos)
	}
	return dst, p.head + uint64(n)
}

// settle removes the samples before end that are still buffered, counting
// them as delivered (ok) or dropped, and returns how many it counted.
func (p *pipeline) settle(end uint64, ok bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if end <= p.head {
		return 0
	}
	n := end - p.head
	for range n {
		p.ring[p.headPos] = wire.Sample{}
		p.headPos = p.next(p.headPos)
	}
	p.head = end
	if ok {
		p.delivered += n
	} else {
		p.dropped += n
	}
	return int(n)
}

// close stops intake and, when discard is set, counts everything still
// buffered as dropped.
func (p *pipeline) close(discard bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if discard {
		for p.head < p.tail {
			p.ring[p.headPos] = wire.Sample{}
			p.headPos = p.next(p.headPos)
			p.head++
			p.dropped++
		}
	}
}

type pipelineCounts struct {
	produced, delivered, dropped uint64
	buffered                     int
}

func (p *pipeline) counts() pipelineCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pipelineCounts{p.produced, p.delivered, p.dropped, int(p.tail - p.head)}
}

func (p *pipeline) buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.tail - p.head)
}

// retryDelay is the capped exponential backoff for a failed batch: 100 ms,
// 200 ms, 400 ms, … up to 30 s, with ±20 % jitter.
func retryDelay(attempt int, randFloat func() float64) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < attempt && d < 30*time.Second; i++ {
		d *= 2
	}
	d = min(d, 30*time.Second)
	return time.Duration(float64(d) * (0.8 + 0.4*randFloat()))
}
