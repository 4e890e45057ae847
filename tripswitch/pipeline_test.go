package tripswitch

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

func checkCounts(t *testing.T, pc pipelineCounts) {
	t.Helper()
	if pc.produced != pc.delivered+pc.dropped+uint64(pc.buffered) {
		t.Fatalf("identity broken: %+v", pc)
	}
}

// TestPipelineConcurrent pushes (one by one and in bulk) from many
// goroutines while a consumer takes and settles batches and another reads
// the counts: the identity holds at every read, and every sample comes out
// exactly once.
func TestPipelineConcurrent(t *testing.T) {
	const producers, each = 8, 5000
	p := newPipeline(producers*each, 100) // large enough: no overflow
	var wg sync.WaitGroup
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g%2 == 1 { // bulk producers, 10 values at a time
				values := make([]float64, 10)
				for i := 0; i < each; i += 10 {
					for k := range values {
						values[k] = float64(i + k)
					}
					s := wire.Sample{RouterID: "r", Metric: string(rune('a' + g))}
					p.pushValues(&s, values, int64(i))
				}
				return
			}
			for i := range each {
				s := wire.Sample{RouterID: "r", Metric: string(rune('a' + g)), Value: float64(i)}
				p.push(&s, int64(i))
			}
		}()
	}
	done := make(chan struct{})
	var got []wire.Sample
	var consumer sync.WaitGroup
	consumer.Add(2)
	go func() {
		defer consumer.Done()
		var batch []wire.Sample
		for {
			batch = p.take(batch, 100, 0)
			if len(batch) == 0 {
				select {
				case <-done:
					if p.counts().buffered == 0 {
						return
					}
				default:
				}
				continue
			}
			got = append(got, batch...)
			p.resolve(len(batch), 0)
		}
	}()
	go func() {
		defer consumer.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			pc := p.counts()
			if pc.produced != pc.delivered+pc.dropped+uint64(pc.buffered) {
				t.Errorf("identity broken: %+v", pc)
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	consumer.Wait()
	pc := p.counts()
	if pc.produced != producers*each || pc.delivered != producers*each || pc.dropped != 0 || pc.buffered != 0 {
		t.Fatalf("counts %+v", pc)
	}
	seen := map[string]bool{}
	for _, s := range got {
		k := fmt.Sprint(s.Metric, s.Value)
		if seen[k] {
			t.Fatalf("sample %s delivered twice", k)
		}
		seen[k] = true
	}
	if len(seen) != producers*each {
		t.Fatalf("%d distinct samples delivered, want %d", len(seen), producers*each)
	}
}

// TestPipelineOverflowKeepsNewest overflows the buffer from one goroutine:
// exactly the overflow is dropped, a batch comes out oldest first, and
// what is kept is close to the newest samples. Each shard keeps its own
// newest and the producer moves to the next shard every rotate samples;
// how far behind a shard can fall depends on the processors the goroutine
// runs on (and on hints lost to a collection), so the test checks that no
// sample kept is older than a few capacities and that most are among the
// newest, not an exact bound.
func TestPipelineOverflowKeepsNewest(t *testing.T) {
	const capacity, pushed = 1000, 25_000
	p := newPipelineShards(capacity, 100, 4)
	for i := range pushed {
		s := wire.Sample{Value: float64(i)}
		p.push(&s, int64(i))
	}
	pc := p.counts()
	checkCounts(t, pc)
	if pc.dropped != pushed-capacity || pc.buffered != capacity {
		t.Fatalf("counts %+v", pc)
	}
	batch := p.take(nil, capacity, 0)
	if len(batch) != capacity {
		t.Fatalf("took %d", len(batch))
	}
	recent := 0
	for i, s := range batch {
		if s.Value < pushed-4*capacity {
			t.Fatalf("sample %d = %v: an old sample survived the overflow", i, s.Value)
		}
		if s.Value >= pushed-capacity-4*rotate {
			recent++
		}
		if i > 0 && s.Value <= batch[i-1].Value {
			t.Fatalf("sample %d = %v after %v: not oldest first", i, s.Value, batch[i-1].Value)
		}
	}
	if recent < capacity*3/4 {
		t.Errorf("%d of %d samples kept are among the newest %d: want most", recent, capacity, capacity+4*rotate)
	}
}

// TestPipelineBufferedBounded pushes from 256 goroutines into a buffer
// whose flusher always has maxInFlight batches in flight: Buffered never
// exceeds the capacity by more than one batch per request in flight.
func TestPipelineBufferedBounded(t *testing.T) {
	const capacity, batchSize, maxInFlight = 10_000, 500, 4
	p := newPipeline(capacity, batchSize)
	stop := make(chan struct{})
	var consumer sync.WaitGroup
	consumer.Add(1)
	go func() { // keeps batches in flight, failing now and then
		defer consumer.Done()
		var inFlight [][]wire.Sample
		for i := 0; ; i++ {
			select {
			case <-stop:
				for _, b := range inFlight {
					p.resolve(len(b), 0)
				}
				return
			default:
			}
			if len(inFlight) < maxInFlight {
				inFlight = append(inFlight, p.take(nil, batchSize, 0))
				continue
			}
			pc := p.counts()
			checkCounts(t, pc)
			if pc.buffered > capacity+maxInFlight*batchSize {
				t.Errorf("buffered %d with capacity %d, batch %d and %d in flight", pc.buffered, capacity, batchSize, maxInFlight)
				return
			}
			batch := inFlight[0]
			inFlight = inFlight[1:]
			if i%3 == 0 {
				p.requeue(batch)
			} else {
				p.resolve(len(batch), 0)
			}
		}
	}()
	var wg sync.WaitGroup
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := wire.Sample{RouterID: "r", Metric: "m"}
			for i := range 2000 {
				s.Value = float64(i)
				p.push(&s, int64(i))
			}
		}()
	}
	wg.Wait()
	close(stop)
	consumer.Wait()
	pc := p.counts()
	checkCounts(t, pc)
	if pc.produced != 256*2000 || pc.buffered > capacity {
		t.Fatalf("counts %+v", pc)
	}
}

// TestPipelineSplitAccounting follows a refused batch the flusher splits:
// held samples count as buffered until resolved or requeued.
func TestPipelineSplitAccounting(t *testing.T) {
	p := newPipelineShards(100, 10, 2)
	for i := range 10 {
		s := wire.Sample{Value: float64(i), TsMs: int64(i)}
		p.push(&s, int64(i))
	}
	batch := p.take(nil, 10, 0)
	if len(batch) != 10 {
		t.Fatalf("took %d", len(batch))
	}
	if pc := p.counts(); pc.buffered != 10 || pc.produced != 10 {
		t.Fatalf("after take %+v", pc)
	}
	if got := p.take(nil, 10, 0); len(got) != 0 {
		t.Fatalf("took %d from a buffer whose samples the flusher holds", len(got))
	}
	p.resolve(4, 1)
	p.requeue(batch[5:])
	pc := p.counts()
	checkCounts(t, pc)
	if pc.delivered != 4 || pc.dropped != 1 || pc.buffered != 5 {
		t.Fatalf("after resolve and requeue %+v", pc)
	}
	again := p.take(nil, 10, 0)
	if len(again) != 5 {
		t.Fatalf("took %d requeued samples", len(again))
	}
	p.resolve(5, 0)
	if pc := p.counts(); pc.delivered != 9 || pc.buffered != 0 {
		t.Fatalf("final %+v", pc)
	}
}

// TestPipelineCloseDiscardsHeld: Close gives up on what the flusher holds;
// the flusher's late outcome changes nothing.
func TestPipelineCloseDiscardsHeld(t *testing.T) {
	p := newPipelineShards(100, 10, 2)
	for i := range 30 {
		s := wire.Sample{Value: float64(i)}
		p.push(&s, int64(i))
	}
	batch := p.take(nil, 10, 0)
	p.resolve(2, 0) // 8 held
	p.close(true)
	p.resolve(8, 0)
	p.requeue(batch)
	pc := p.counts()
	checkCounts(t, pc)
	if pc.delivered != 2 || pc.dropped != 28 || pc.buffered != 0 {
		t.Fatalf("counts %+v", pc)
	}
	s := wire.Sample{}
	p.push(&s, 0)
	if pc := p.counts(); pc.produced != 31 || pc.dropped != 29 {
		t.Fatalf("after close %+v", pc)
	}
}

// BenchmarkPipelinePush queues samples into a full buffer (every sample
// overwrites the oldest), as during an outage: the buffer's part of
// BenchmarkPreparedSample, without the clock reads. See
// BenchmarkPipelinePushDelivered for a buffer with room.
func BenchmarkPipelinePush(b *testing.B) {
	p := newPipeline(1<<16, 500)
	s := wire.Sample{RouterID: "rtr_checkout", Metric: "latency", OK: true}
	b.ReportAllocs()
	var key int64
	for b.Loop() {
		key++
		p.push(&s, key)
	}
}

func BenchmarkPipelinePushParallel(b *testing.B) {
	p := newPipeline(1<<16, 500)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := wire.Sample{RouterID: "rtr_checkout", Metric: "latency", OK: true}
		var key int64
		for pb.Next() {
			key++
			p.push(&s, key)
		}
	})
}

// BenchmarkPipelinePushDelivered queues samples into a buffer that has
// room, as while the server accepts them: every 512 samples the producer
// also takes a batch of 512 and settles it as delivered, so the cost per
// sample includes the flusher's share (locking every shard, merging).
func BenchmarkPipelinePushDelivered(b *testing.B) {
	p := newPipeline(1<<16, 500)
	b.ReportAllocs()
	pushDelivered(b, p, func(f func()) {
		for b.Loop() {
			f()
		}
	})
}

func BenchmarkPipelinePushDeliveredParallel(b *testing.B) {
	p := newPipeline(1<<16, 500)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		pushDelivered(b, p, func(f func()) {
			for pb.Next() {
				f()
			}
		})
	})
	if pc := p.counts(); pc.dropped != 0 {
		b.Fatalf("the buffer overflowed: %+v", pc)
	}
}

func pushDelivered(b *testing.B, p *pipeline, loop func(func())) {
	const every = 512
	s := wire.Sample{RouterID: "rtr_checkout", Metric: "latency", OK: true}
	dst := make([]wire.Sample, 0, every)
	var key int64
	loop(func() {
		key++
		p.push(&s, key)
		if key%every == 0 {
			dst = p.take(dst, every, 0)
			p.resolve(len(dst), 0)
		}
	})
}

// TestPipelineRequeue puts taken batches back: they are taken again first,
// also into shards that had fewer samples (whose sequence numbers then go
// below their start), and where the buffer is full of newer samples the
// requeued ones are dropped, so that it keeps the newest.
func TestPipelineRequeue(t *testing.T) {
	for round := range 20 {
		p := newPipelineShards(20, 10, 2)
		for i := range 10 {
			s := wire.Sample{Value: float64(i), TsMs: int64(i)}
			p.push(&s, int64(i)*int64(time.Millisecond))
		}
		batch := p.take(nil, 10, 0)
		p.requeue(append([]wire.Sample(nil), batch...))
		again := p.take(nil, 10, 0)
		if len(again) != 10 {
			t.Fatalf("round %d: took %d requeued samples, want 10", round, len(again))
		}
		p.resolve(10, 0)
		if pc := p.counts(); pc.delivered != 10 || pc.buffered != 0 || pc.dropped != 0 {
			t.Fatalf("round %d: counts %+v", round, pc)
		}
	}

	p := newPipelineShards(10, 10, 2)
	push := func(from int) {
		for i := from; i < from+10; i++ {
			s := wire.Sample{Value: float64(i), TsMs: int64(i)}
			p.push(&s, int64(i)*int64(time.Millisecond))
		}
	}
	push(0)
	old := p.take(nil, 10, 0)
	push(10) // the buffer is full of newer samples
	p.requeue(old)
	pc := p.counts()
	checkCounts(t, pc)
	if pc.dropped != 10 || pc.buffered != 10 {
		t.Fatalf("counts %+v, want the 10 requeued samples dropped", pc)
	}
	for _, s := range p.take(nil, 10, 0) {
		if s.Value < 10 {
			t.Fatalf("sample %v: an older requeued sample replaced a newer one", s.Value)
		}
	}
}
