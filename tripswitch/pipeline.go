package tripswitch

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

// pipeline is the bounded sample buffer between producers and the flusher.
//
// Producers stage samples in small buffers picked by goroutine (see
// stage), so that concurrent callers rarely touch the same lock or cache
// line. A full stage moves to the central ring in push order; whenever the
// flusher or Stats looks, every stage is drained, several stages merged by
// timestamp, so that the ring holds samples oldest first.
//
// Samples in the ring are addressed by monotonically increasing sequence
// numbers. The flusher copies the oldest samples out (the batch in flight),
// sends them, and only then advances the head, so a batch that fails stays
// queued and is retried oldest first. When the ring is full a new sample
// overwrites the oldest one, which is counted as dropped; if that sample
// belongs to the batch in flight, its fate waits for the batch's outcome
// (it is counted in overwritten meanwhile, and still buffered: the flusher
// holds its copy).
//
// With mu and every stage locked:
// Σ produced = delivered + Σ discarded + dropped + (tail - head) + overwritten
// + Σ (staged + in transit).
type pipeline struct {
	stages    []stage
	stageMask uint32
	stageCap  int
	closed    atomic.Bool // intake stopped: new samples are counted as dropped

	mu         sync.Mutex // the ring; taken before any stage lock
	ring       []wire.Sample
	head       uint64 // sequence of the oldest buffered sample
	tail       uint64 // sequence of the next sample
	headPos    int    // ring index of head
	tailPos    int    // ring index of tail
	delivered  uint64
	dropped    uint64
	runs       [][]staged // scratch for merging stages
	discarding bool       // Close dropped the buffer: late runs are dropped too

	// The batch in flight covers sequences [flightStart, flightEnd).
	inFlight    bool
	flightStart uint64
	flightEnd   uint64
	overwritten uint64 // in-flight samples overwritten in the ring

	batchSize int
	notify    chan struct{} // signals the flusher that a full batch is ready
}

// staged is a sample waiting in a stage, with its ordering key.
type staged struct {
	s   wire.Sample
	key int64 // Unix nanoseconds of the sample
}

// stage is one producer-side buffer, padded to its own cache lines.
type stage struct {
	mu        sync.Mutex
	buf       []staged
	spare     []staged     // swapped in by drain, so draining allocates nothing
	inTransit int          // samples on their way to the ring (a full run, a bulk push)
	newest    atomic.Int64 // key of the last sample staged; 0 while empty
	produced  uint64
	discarded uint64 // produced after close, or unusable
	_         [64]byte
}

func newPipeline(capacity, batchSize int) *pipeline {
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	// A stage holds at most a fraction of a batch and of the buffer, so
	// that batching and overflow stay close to exact.
	stageCap := min(64, max(1, min(capacity, batchSize)/n))
	p := &pipeline{
		stages:    make([]stage, n),
		stageMask: uint32(n - 1),
		stageCap:  stageCap,
		ring:      make([]wire.Sample, capacity),
		runs:      make([][]staged, 0, n),
		batchSize: batchSize,
		notify:    make(chan struct{}, 1),
	}
	for i := range p.stages {
		p.stages[i].buf = make([]staged, 0, stageCap)
		p.stages[i].spare = make([]staged, 0, stageCap)
	}
	return p
}

// push queues one sample taken at key (Unix nanoseconds). It never blocks
// on I/O and holds one uncontended lock in the common case.
func (p *pipeline) push(s *wire.Sample, key int64) {
	p.pushTo(p.stage(), s, key)
}

// pushTo is push into a given stage.
func (p *pipeline) pushTo(st *stage, s *wire.Sample, key int64) {
	st.mu.Lock()
	st.produced++
	if p.closed.Load() {
		st.discarded++
		st.mu.Unlock()
		return
	}
	if n := len(st.buf); n < cap(st.buf) {
		st.buf = st.buf[:n+1]
		e := &st.buf[n]
		e.s, e.key = *s, key
	} else {
		st.buf = append(st.buf, staged{*s, key})
	}
	st.newest.Store(key)
	if len(st.buf) < p.stageCap || st.spare == nil {
		st.mu.Unlock()
		return
	}
	// The stage is full: move it to the ring, in push order. Until it is
	// there the run is counted as in transit.
	run := st.buf
	st.buf, st.spare = st.spare, nil
	st.newest.Store(0)
	st.inTransit += len(run)
	st.mu.Unlock()

	p.mu.Lock()
	if p.discarding {
		p.dropped += uint64(len(run)) // Close gave up on the buffer meanwhile
	} else {
		p.moveOlderLocked(st, run[0].key)
		for i := range run {
			p.appendLocked(&run[i].s)
		}
	}
	p.notifyLocked()
	// The run is not cleared: the ring holds the same strings now, and the
	// buffer is overwritten as the stage refills.
	st.mu.Lock()
	st.inTransit -= len(run)
	st.spare = run[:0]
	st.mu.Unlock()
	p.mu.Unlock()
}

// moveOlderLocked moves to the ring, ahead of a full run of stage full
// whose oldest key is first, the stages other than full whose samples are
// all older (or as old). A goroutine whose stack moved left such samples behind in its
// previous stage; concurrent goroutines' stages hold newer samples and are
// left alone. The caller holds mu.
func (p *pipeline) moveOlderLocked(full *stage, first int64) {
	for i := range p.stages {
		st := &p.stages[i]
		if n := st.newest.Load(); st == full || n == 0 || n > first {
			continue
		}
		st.mu.Lock()
		if st.inTransit > 0 { // see drainLocked
			st.mu.Unlock()
			continue
		}
		for j := range st.buf {
			p.appendLocked(&st.buf[j].s)
		}
		clear(st.buf)
		st.buf = st.buf[:0]
		st.newest.Store(0)
		st.mu.Unlock()
	}
}

// pushValues queues one sample per value, the others copied from tmpl.
// When the caller has nothing staged, the samples go straight to the ring
// under one lock (reserved as in transit meanwhile, like a full run).
func (p *pipeline) pushValues(tmpl *wire.Sample, values []float64, key int64) {
	st := p.stage()
	st.mu.Lock()
	if p.closed.Load() {
		st.produced += uint64(len(values))
		st.discarded += uint64(len(values))
		st.mu.Unlock()
		return
	}
	if len(st.buf) > 0 || st.inTransit > 0 {
		st.mu.Unlock()
		s := *tmpl
		for _, v := range values {
			s.Value = v
			p.pushTo(st, &s, key)
		}
		return
	}
	st.produced += uint64(len(values))
	st.inTransit += len(values)
	st.mu.Unlock()

	p.mu.Lock()
	if p.discarding {
		p.dropped += uint64(len(values))
	} else {
		p.moveOlderLocked(st, key)
		s := *tmpl
		for _, v := range values {
			s.Value = v
			p.appendLocked(&s)
		}
		p.notifyLocked()
	}
	st.mu.Lock()
	st.inTransit -= len(values)
	st.mu.Unlock()
	p.mu.Unlock()
}

// stage picks the caller's stage from the address of its stack, which is
// stable for a goroutine: samples of one goroutine stay in push order
// (unless its stack is moved as it grows, which can reorder the samples
// around that moment), and concurrent goroutines mostly use different
// stages.
func (p *pipeline) stage() *stage {
	var mark byte
	x := uint64(uintptr(unsafe.Pointer(&mark))) >> 13 // 8 KiB: the smallest stack
	h := uint32((x * 0x9E3779B97F4A7C15) >> 40)       // Fibonacci hashing: the top bits mix best
	return &p.stages[h&p.stageMask]
}

// drainLocked moves every staged sample into the ring, oldest first. The
// caller holds mu.
func (p *pipeline) drainLocked() {
	runs := p.runs[:0]
	for i := range p.stages {
		st := &p.stages[i]
		st.mu.Lock()
		// A stage with a run in transit keeps its newer samples until the
		// run has landed: draining them now would put them ahead of it.
		if len(st.buf) > 0 && st.inTransit == 0 {
			runs = append(runs, st.buf)
			if st.spare != nil {
				st.buf, st.spare = st.spare, nil
			} else {
				st.buf = make([]staged, 0, p.stageCap)
			}
			st.newest.Store(0)
		}
		st.mu.Unlock()
	}
	if len(runs) == 0 {
		return
	}
	if len(runs) == 1 {
		// One producer (or one stage): push order is oldest first.
		for i := range runs[0] {
			p.appendLocked(&runs[0][i].s)
		}
	} else {
		p.mergeLocked(runs)
	}
	// Hand the emptied buffers back as spares to stages that lack one and
	// have no run in transit (whose pusher restores its own spare).
	j := 0
	for i := range p.stages {
		if j == len(runs) {
			break
		}
		st := &p.stages[i]
		st.mu.Lock()
		if st.spare == nil && st.inTransit == 0 {
			clear(runs[j])
			st.spare = runs[j][:0]
			j++
		}
		st.mu.Unlock()
	}
	clear(runs)
	p.runs = runs[:0]
	p.notifyLocked()
}

// notifyLocked signals the flusher when a full batch is in the ring.
func (p *pipeline) notifyLocked() {
	if int(p.tail-p.head) >= p.batchSize {
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
}

// mergeLocked appends the samples of several stages in timestamp order:
// each stage is sorted, then the stages are merged. There are few stages,
// so a linear scan for the smallest head is cheapest.
func (p *pipeline) mergeLocked(runs [][]staged) {
	for _, run := range runs {
		sortByKey(run)
	}
	var pos [64]int // stages are capped at 64
	for {
		best := -1
		for i, run := range runs {
			if pos[i] < len(run) && (best < 0 || run[pos[i]].key < runs[best][pos[best]].key) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		p.appendLocked(&runs[best][pos[best]].s)
		pos[best]++
	}
}

// sortByKey sorts a stage's samples; they arrive nearly sorted, which
// insertion sort handles in linear time.
func sortByKey(run []staged) {
	for i := 1; i < len(run); i++ {
		if run[i].key >= run[i-1].key {
			continue
		}
		x := run[i]
		j := i
		for ; j > 0 && run[j-1].key > x.key; j-- {
			run[j] = run[j-1]
		}
		run[j] = x
	}
}

// appendLocked puts one sample at the tail of the ring, overwriting the
// oldest when the ring is full. The caller holds mu.
func (p *pipeline) appendLocked(s *wire.Sample) {
	if int(p.tail-p.head) == len(p.ring) {
		if p.inFlight && p.head >= p.flightStart && p.head < p.flightEnd {
			p.overwritten++
		} else {
			p.dropped++
		}
		p.head++ // headPos == tailPos: the slot is overwritten below
		p.headPos = p.next(p.headPos)
	}
	p.ring[p.tailPos] = *s
	p.tail++
	p.tailPos = p.next(p.tailPos)
}

// drop counts samples that were produced but could not be queued.
func (p *pipeline) drop(n int) {
	st := p.stage()
	st.mu.Lock()
	st.produced += uint64(n)
	st.discarded += uint64(n)
	st.mu.Unlock()
}

func (p *pipeline) next(i int) int {
	i++
	if i == len(p.ring) {
		return 0
	}
	return i
}

// take copies up to max of the oldest samples into dst and marks them as
// the batch in flight; the flusher then calls settle or retry. It takes
// nothing while fewer than atLeast samples are buffered.
func (p *pipeline) take(dst []wire.Sample, max, atLeast int) []wire.Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainLocked()
	dst = dst[:0]
	n := min(int(p.tail-p.head), max)
	if n < atLeast {
		return dst
	}
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
	p.closed.Store(true)
	p.drainLocked()
	if discard {
		p.discarding = true
		for i := range p.stages { // samples held back behind runs in transit
			st := &p.stages[i]
			st.mu.Lock()
			p.dropped += uint64(len(st.buf))
			clear(st.buf)
			st.buf = st.buf[:0]
			st.newest.Store(0)
			st.mu.Unlock()
		}
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

// counts returns a consistent snapshot: it drains the stages and reads
// every counter with all locks held.
func (p *pipeline) counts() pipelineCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainLocked()
	pc := pipelineCounts{delivered: p.delivered, dropped: p.dropped, buffered: int(p.tail-p.head) + int(p.overwritten)}
	for i := range p.stages {
		st := &p.stages[i]
		st.mu.Lock()
	}
	for i := range p.stages {
		st := &p.stages[i]
		pc.produced += st.produced
		pc.dropped += st.discarded
		pc.buffered += len(st.buf) + st.inTransit // pushed since the drain above
		st.mu.Unlock()
	}
	return pc
}

// buffered is the number of samples waiting for delivery.
func (p *pipeline) buffered() int {
	return p.counts().buffered
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
