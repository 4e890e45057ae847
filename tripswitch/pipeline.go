package tripswitch

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// pipeline is the bounded sample buffer between producers and the flusher.
//
// It is a few shards, each a mutex and a fixed ring; together the rings
// hold exactly the buffer capacity. Each processor puts samples into a
// shard of its own while it is free (see lockShard), so concurrent
// producers rarely wait for the same lock; a full shard passes the sample
// on to one with room. When every shard is full, the processor's shard
// overwrites its oldest sample, which is counted as dropped, and after
// rotate samples it sends the processor on to the next shard:
// each shard keeps its own newest samples, and since every shard is
// renewed in turn the buffer keeps close to the newest ones. It is not
// exact: a shard that no processor has reached for a while (a goroutine
// that changed processors, a hint lost to a garbage collection) still
// holds older samples until one does.
//
// The flusher takes batches of the oldest samples of all shards (merging
// the shards by timestamp) out of the rings, and holds them while they are
// in flight: held samples still count as buffered until their outcome is
// known (resolve), and a batch that fails is put back (requeue) to be
// retried. Several batches may be held at once, one per request in
// flight.
//
// Samples of one goroutine are not kept in the order they were produced:
// every sample carries its timestamp, and the server orders by it. A batch
// is in timestamp order as far as each shard is.
//
// Accounting, with every shard locked:
//
//	produced = delivered + dropped + buffered
//	buffered = Σ ring contents + held
//
// so Buffered never exceeds the capacity by more than one batch per
// request in flight.
//
// Targets (BENCHMARKS.md): queueing a sample allocates nothing and keeps
// BenchmarkPreparedSample at or under 150 ns; under RunParallel the cost
// per sample stays at or under 0.7 × the serial one.
type pipeline struct {
	shards    []shard
	mask      uint32
	closed    atomic.Bool // intake stopped: new samples are counted as dropped
	batchSize int
	share     int           // samples a shard holds when the whole buffer holds about a batch
	notify    chan struct{} // wakes the flusher when a batch may be ready
	allFull   uint64        // full with every shard's bit set
	hints     sync.Pool     // *uint32 into index: the shard a processor used last
	index     []uint32      // index[i] == i

	// full has bit i set while shard i's ring is full. It is written under
	// the shard's lock when that changes (rarely), and read without locks,
	// so that finding a shard with room costs one load of a cache line
	// that producers do not write.
	full atomic.Uint64

	// Written with every shard locked (see lockAll), so that counts is
	// consistent.
	delivered  uint64
	dropped    uint64 // refused or given up by the flusher
	held       int    // taken out of the rings, with the flusher (see take)
	discarding bool   // Close dropped the buffer: late outcomes change nothing
}

// shard is one lock and one ring, padded to its own cache lines.
type shard struct {
	mu      sync.Mutex
	ring    []slot
	head    uint64 // sequence of the oldest sample (wraps: compare with ==)
	tail    uint64 // sequence of the next sample
	headPos int    // ring index of head
	tailPos int    // ring index of tail
	cursor  uint64 // take's merge position
	// overwrites counts samples overwritten since a processor was last
	// sent on to the next shard (see lockShard).
	overwrites int
	bit        uint64 // the shard's bit in pipeline.full
	index      uint32 // the shard's index in pipeline.shards

	produced uint64
	dropped  uint64 // overwritten when full, or produced after close
	invalid  uint64 // refused when produced (also counted in dropped)
	_        [64]byte
}

// slot is a buffered sample and its ordering key (Unix nanoseconds).
type slot struct {
	s   wire.Sample
	key int64
}

// newPipeline splits capacity over a power-of-two number of shards, about
// two per processor (at most 64, and never more than capacity).
func newPipeline(capacity, batchSize int) *pipeline {
	n := 1
	for n < 2*runtime.GOMAXPROCS(0) && n < 64 && 2*n <= capacity {
		n *= 2
	}
	return newPipelineShards(capacity, batchSize, n)
}

// newPipelineShards is newPipeline with n shards (a power of two).
func newPipelineShards(capacity, batchSize, n int) *pipeline {
	p := &pipeline{
		shards:    make([]shard, n),
		mask:      uint32(n - 1),
		batchSize: batchSize,
		share:     max(1, (batchSize+n-1)/n),
		notify:    make(chan struct{}, 1),
	}
	for i := range p.shards {
		size := capacity / n
		if i < capacity%n {
			size++
		}
		p.shards[i].ring = make([]slot, size)
		p.shards[i].bit = 1 << i
		p.shards[i].index = uint32(i)
		p.index = append(p.index, uint32(i))
		p.allFull |= 1 << i
	}
	return p
}

// lockShard locks the shard for a new sample. A processor keeps using the
// shard it used last (a hint kept in a sync.Pool, whose items stay with
// the processor that put them) until it finds that shard locked by
// another, and then moves to one picked at random: concurrent producers
// settle on different locks, and each keeps its shard's cache lines.
//
// While the buffer has room, a full shard passes the sample on to one with
// room, so that nothing is dropped before the whole buffer is full. Once
// it is full, the sample overwrites the oldest of the processor's shard,
// and after overwriting rotate samples a shard sends the processor on to
// the next shard: every producer renews every shard in turn, so that the
// buffer keeps the newest samples also with a single producer, at the
// cost of one move per rotate samples.
func (p *pipeline) lockShard() *shard {
	var i uint32
	if h, ok := p.hints.Get().(*uint32); ok {
		i = *h
	} else {
		i = rand.Uint32()
	}
	var sh *shard
	if p.full.Load() == p.allFull {
		sh = &p.shards[i&p.mask]
		if !sh.mu.TryLock() {
			sh = p.lockRandom()
		}
		if sh.overwrites >= rotate {
			sh.overwrites = 0
			p.hints.Put(&p.index[(sh.index+1)&p.mask])
			return sh
		}
	} else {
		var room bool
		sh, room = p.roomFrom(i)
		if !room || !sh.mu.TryLock() {
			sh = p.lockRandom()
		} else if sh.isFull() { // it filled up meanwhile
			sh.mu.Unlock()
			sh = p.lockRandom()
		}
	}
	p.hints.Put(&p.index[sh.index])
	return sh
}

// rotate is how many samples a full shard overwrites before it sends the
// processor writing them on to the next shard (see lockShard).
// A shard's ring holds its own newest samples; with every shard renewed
// in turn, the buffer holds close to the newest samples.
const rotate = 64

// lockRandom locks a shard picked at random, or the next one with room
// when it is full.
func (p *pipeline) lockRandom() *shard {
	i := rand.Uint32()
	for range len(p.shards) {
		sh, room := p.roomFrom(i)
		sh.mu.Lock()
		if !room || !sh.isFull() {
			return sh
		}
		sh.mu.Unlock() // it filled up meanwhile: look again
		i++
	}
	sh := &p.shards[i&p.mask]
	sh.mu.Lock()
	return sh
}

// roomFrom returns shard i, or the next one with room when it is full; room
// is false when every shard is full (sh is then shard i). It reads the
// shards' full flags without their locks.
func (p *pipeline) roomFrom(i uint32) (sh *shard, room bool) {
	full := p.full.Load()
	if full == p.allFull {
		return &p.shards[i&p.mask], false
	}
	for j := range uint32(len(p.shards)) {
		if o := &p.shards[(i+j)&p.mask]; full&o.bit == 0 {
			return o, true
		}
	}
	return &p.shards[i&p.mask], false
}

// push queues one sample taken at key (Unix nanoseconds). It never blocks
// on I/O and holds one lock, rarely contended.
func (p *pipeline) push(s *wire.Sample, key int64) {
	sh := p.lockShard()
	sh.produced++
	if p.closed.Load() {
		sh.dropped++
		sh.mu.Unlock()
		return
	}
	p.append(sh, s, key)
	ready := int(sh.tail-sh.head) >= p.share
	sh.mu.Unlock()
	if ready {
		p.wake()
	}
}

// pushValues queues one sample per value, the others copied from tmpl,
// under one lock (or more, when the shard fills up).
func (p *pipeline) pushValues(tmpl *wire.Sample, values []float64, key int64) {
	sh := p.lockShard()
	s := *tmpl
	for i, v := range values {
		if p.closed.Load() {
			n := uint64(len(values) - i)
			sh.produced += n
			sh.dropped += n
			break
		}
		if sh.isFull() {
			if _, room := p.roomFrom(0); room {
				sh.mu.Unlock()
				sh = p.lockShard()
			}
		}
		s.Value = v
		sh.produced++
		p.append(sh, &s, key)
	}
	ready := int(sh.tail-sh.head) >= p.share
	sh.mu.Unlock()
	if ready {
		p.wake()
	}
}

// reject counts n samples that were produced but could not be queued;
// invalid says they broke the ingest contract.
func (p *pipeline) reject(n int, invalid bool) {
	sh := &p.shards[rand.Uint32()&p.mask]
	sh.mu.Lock()
	sh.produced += uint64(n)
	sh.dropped += uint64(n)
	if invalid {
		sh.invalid += uint64(n)
	}
	sh.mu.Unlock()
}

// wake signals the flusher without waiting.
func (p *pipeline) wake() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// append puts a sample at the tail of shard sh, overwriting the oldest
// when the ring is full. The caller holds sh.mu.
func (p *pipeline) append(sh *shard, s *wire.Sample, key int64) {
	if len(sh.ring) == 0 {
		sh.dropped++
		return
	}
	if sh.isFull() {
		sh.dropped++
		sh.overwrites++
		sh.head++
		sh.headPos = sh.next(sh.headPos)
	}
	e := &sh.ring[sh.tailPos]
	e.s, e.key = *s, key
	sh.tail++
	sh.tailPos = sh.next(sh.tailPos)
	if sh.isFull() && p.full.Load()&sh.bit == 0 {
		p.full.Or(sh.bit)
	}
}

// removed clears shard sh's full bit after samples left its ring. The
// caller holds sh.mu.
func (p *pipeline) removed(sh *shard) {
	if !sh.isFull() && p.full.Load()&sh.bit != 0 {
		p.full.And(^sh.bit)
	}
}

// isFull reports whether the ring is full. The caller holds sh.mu.
func (sh *shard) isFull() bool {
	return int(sh.tail-sh.head) == len(sh.ring)
}

// next is the ring index after i.
func (sh *shard) next(i int) int {
	if i++; i == len(sh.ring) {
		return 0
	}
	return i
}

// at returns the slot of sequence seq, which is buffered.
func (sh *shard) at(seq uint64) *slot {
	i := sh.headPos + int(seq-sh.head)
	if i >= len(sh.ring) {
		i -= len(sh.ring)
	}
	return &sh.ring[i]
}

func (p *pipeline) lockAll() {
	for i := range p.shards {
		p.shards[i].mu.Lock()
	}
}

func (p *pipeline) unlockAll() {
	for i := range p.shards {
		p.shards[i].mu.Unlock()
	}
}

// take moves up to max of the oldest samples into dst, merging the shards
// by timestamp; the flusher holds them, still counted as buffered, until it
// calls resolve or requeue for them. It takes nothing while fewer than
// atLeast samples are buffered in the rings.
func (p *pipeline) take(dst []wire.Sample, max, atLeast int) []wire.Sample {
	dst = dst[:0]
	p.lockAll()
	defer p.unlockAll()
	total := 0
	for i := range p.shards {
		sh := &p.shards[i]
		total += int(sh.tail - sh.head)
		sh.cursor = sh.head
	}
	if total == 0 || total < atLeast {
		return dst
	}
	for len(dst) < max {
		var best *shard
		for i := range p.shards {
			sh := &p.shards[i]
			if sh.cursor != sh.tail && (best == nil || sh.at(sh.cursor).key < best.at(best.cursor).key) {
				best = sh
			}
		}
		if best == nil {
			break
		}
		dst = append(dst, best.at(best.cursor).s)
		best.cursor++
	}
	for i := range p.shards {
		sh := &p.shards[i]
		for ; sh.head != sh.cursor; sh.head++ {
			sh.ring[sh.headPos] = slot{}
			sh.headPos = sh.next(sh.headPos)
		}
		p.removed(sh)
	}
	if !p.discarding {
		p.held += len(dst)
	}
	return dst
}

// resolve settles samples the flusher holds: delivered were accepted,
// dropped were given up.
func (p *pipeline) resolve(delivered, dropped int) {
	p.lockAll()
	defer p.unlockAll()
	if p.discarding {
		return
	}
	p.held -= delivered + dropped
	p.delivered += uint64(delivered)
	p.dropped += uint64(dropped)
}

// requeue puts samples the flusher holds back into the buffer, ahead of
// the samples there, to be retried first. They are older than any sample
// buffered, so where the buffer has no room left they are the ones
// dropped: the buffer keeps the newest samples.
func (p *pipeline) requeue(samples []wire.Sample) {
	p.lockAll()
	defer p.unlockAll()
	if p.discarding {
		return
	}
	p.held -= len(samples)
	for i := len(samples) - 1; i >= 0; i-- {
		sh, room := p.roomFrom(uint32(i))
		if !room {
			sh.dropped += uint64(i + 1)
			return
		}
		sh.head--
		if sh.headPos == 0 {
			sh.headPos = len(sh.ring)
		}
		sh.headPos--
		sh.ring[sh.headPos] = slot{s: samples[i], key: samples[i].TsMs * int64(time.Millisecond)}
		if sh.isFull() {
			p.full.Or(sh.bit)
		}
	}
}

// close stops intake and, when discard is set, counts everything still
// buffered (what the flusher holds included) as dropped.
func (p *pipeline) close(discard bool) {
	p.lockAll()
	defer p.unlockAll()
	p.closed.Store(true)
	if !discard || p.discarding {
		return
	}
	p.discarding = true
	for i := range p.shards {
		sh := &p.shards[i]
		sh.dropped += sh.tail - sh.head
		clear(sh.ring)
		sh.head, sh.headPos = sh.tail, sh.tailPos
		p.removed(sh)
	}
	p.dropped += uint64(p.held)
	p.held = 0
}

type pipelineCounts struct {
	produced, delivered, dropped, invalid uint64
	buffered                              int
}

// counts returns a consistent snapshot, read with every shard locked.
func (p *pipeline) counts() pipelineCounts {
	p.lockAll()
	defer p.unlockAll()
	pc := pipelineCounts{delivered: p.delivered, dropped: p.dropped, buffered: p.held}
	for i := range p.shards {
		sh := &p.shards[i]
		pc.produced += sh.produced
		pc.dropped += sh.dropped
		pc.invalid += sh.invalid
		pc.buffered += int(sh.tail - sh.head)
	}
	return pc
}

// buffered is the number of samples waiting for delivery.
func (p *pipeline) buffered() int {
	return p.counts().buffered
}
