package tripswitch

import (
	"sync"
	"testing"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

// TestPipelineConcurrent pushes (one by one and in bulk) from many
// goroutines while a consumer
// takes and settles batches and another reads the counts: the identity
// holds at every read, nothing is lost, and each goroutine's samples come
// out in the order it pushed them.
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
			p.settle(true)
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
	next := map[string]float64{}
	for _, s := range got {
		if s.Value != next[s.Metric] {
			t.Fatalf("producer %s: got %v, want %v: order lost", s.Metric, s.Value, next[s.Metric])
		}
		next[s.Metric]++
	}
}

// TestPipelineOverflowKeepsNewest overflows the ring from one goroutine:
// exactly the overflow is dropped and the newest samples remain, in order.
func TestPipelineOverflowKeepsNewest(t *testing.T) {
	p := newPipeline(1000, 100)
	for i := range 25_000 {
		s := wire.Sample{Value: float64(i)}
		p.push(&s, int64(i))
	}
	pc := p.counts()
	if pc.dropped != 24_000 || pc.buffered != 1000 {
		t.Fatalf("counts %+v", pc)
	}
	batch := p.take(nil, 1000, 0)
	for i, s := range batch {
		if s.Value != float64(24_000+i) {
			t.Fatalf("sample %d = %v", i, s.Value)
		}
	}
}
