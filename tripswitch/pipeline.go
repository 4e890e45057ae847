package tripswitch

import (
	"sync"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

// pipeline is the bounded sample buffer between producers and the flusher.
//
// Samples live in a ring addressed by monotonically increasing sequence
// numbers. The flusher copies the oldest samples out (the batch in flight),
// sends them, and only then advances the head, so a batch that fails stays
// queued and is retried oldest first. When the ring is full a new sample
// overwrites the oldest one, which is counted as dropped; if that sample
// belongs to the batch in flight, its fate waits for the batch's outcome
// (it is counted in overwritten meanwhile, and still buffered: the flusher
// holds its copy).
//
// At every moment, under mu:
// produced = delivered + dropped + (tail - head) + overwritten.
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

	// The batch in flight covers sequences [flightStart, flightEnd).
	inFlight    bool
	flightStart uint64
	flightEnd   uint64
	overwritten uint64 // in-flight samples overwritten in the ring

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
		if p.inFlight && p.head >= p.flightStart && p.head < p.flightEnd {
			p.overwritten++
		} else {
			p.dropped++
		}
		p.ring[p.headPos] = wire.Sample{}
		p.head++
		p.headPos = p.next(p.headPos)
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

// take copies up to max of the oldest samples into dst and marks them as
// the batch in flight; the flusher then calls settle or retry.
func (p *pipeline) take(dst []wire.Sample, max int) []wire.Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(int(p.tail-p.head), max)
	dst = dst[:0]
	pos := p.headPos
	for range n {
		dst = append(dst, p.ring[pos])
		pos = p.next(pos)
	}
	p.inFlight = n > 0
	p.flightStart, p.flightEnd = p.head, p.head+uint64(n)
	p.overwritten = 0
	return dst
}

// settle ends the batch in flight: its samples are delivered (ok) or
// dropped, including those overwritten in the ring meanwhile. It returns
// the batch size.
func (p *pipeline) settle(ok bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inFlight {
		return 0
	}
	n := p.overwritten
	for p.head < p.flightEnd {
		p.ring[p.headPos] = wire.Sample{}
		p.headPos = p.next(p.headPos)
		p.head++
		n++
	}
	if ok {
		p.delivered += n
	} else {
		p.dropped += n
	}
	p.endFlight()
	return int(p.flightEnd - p.flightStart)
}

// retry ends the batch in flight without removing it: its samples stay
// queued for the next attempt, except those overwritten meanwhile, which
// are now dropped.
func (p *pipeline) retry() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped += p.overwritten
	p.endFlight()
}

func (p *pipeline) endFlight() {
	p.inFlight = false
	p.overwritten = 0
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
		p.dropped += p.overwritten
		p.endFlight()
	}
}

type pipelineCounts struct {
	produced, delivered, dropped uint64
	buffered                     int
}

func (p *pipeline) counts() pipelineCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pipelineCounts{p.produced, p.delivered, p.dropped, int(p.tail-p.head) + int(p.overwritten)}
}

func (p *pipeline) buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.tail-p.head) + int(p.overwritten)
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
