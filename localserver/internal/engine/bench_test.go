package engine

import (
	"fmt"
	"testing"
)

// BenchmarkAdd adds in-order samples to a breaker already holding
// MaxSamples samples, so every Add also drops the oldest one (steady state).
func BenchmarkAdd(b *testing.B) {
	br := New(Config{Metric: "m", Kind: KindP95, Op: OpGt, Threshold: 500}, t0)
	i := int64(0)
	add := func() {
		br.Add(Sample{TsMs: t0 + i/4, Value: float64(i & 1023), OK: i&15 != 0})
		i++
	}
	for range MaxSamples {
		add()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		add()
	}
}

// BenchmarkAddOutOfOrder is BenchmarkAdd with one sample in eight stamped
// up to 64 ms in the past (a client with a slow clock), including the merges
// that a read needs: one Evaluate every 10,000 samples.
func BenchmarkAddOutOfOrder(b *testing.B) {
	br := New(Config{Metric: "m", Kind: KindErrorRate, Op: OpGt, Threshold: 0.9}, t0)
	i := int64(0)
	add := func() {
		ts := t0 + i/4
		if i&7 == 0 {
			ts -= i & 63
		}
		br.Add(Sample{TsMs: ts, Value: 1, OK: i&15 != 0})
		i++
		if i%10_000 == 0 {
			br.Evaluate(t0 + i/4)
		}
	}
	for range MaxSamples {
		add()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		add()
	}
}

// BenchmarkIngestWithEvaluation feeds 250 samples per millisecond into a
// p95 breaker with a 1 s window (250,000 samples) and evaluates it once per
// simulated second; ns/op is the cost per sample, evaluation included.
func BenchmarkIngestWithEvaluation(b *testing.B) {
	br := New(Config{Metric: "m", Kind: KindP95, Op: OpGt, Threshold: 1e9, WindowMs: 1000}, t0)
	i := int64(0)
	add := func() {
		br.Add(Sample{TsMs: t0 + i/250, Value: float64(i % 4093), OK: i%9 != 0})
		i++
		if i%250_000 == 0 {
			br.Evaluate(t0 + i/250)
		}
	}
	for range 500_000 {
		add()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		add()
	}
}

// BenchmarkEvaluate measures one evaluation of a closed breaker whose 10 s
// window holds n samples, with the window sliding by 10 ms (and the
// matching new samples) per evaluation.
func BenchmarkEvaluate(b *testing.B) {
	for _, kind := range []string{KindP95, KindErrorRate} {
		for _, n := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/%dk", kind, n/1000), func(b *testing.B) {
				const window = 10_000
				perMs := n / window
				br := New(Config{Metric: "m", Kind: kind, Op: OpGt, Threshold: 1e9, WindowMs: window}, t0)
				ts := t0
				v := 0.0
				fill := func(ms int) {
					for range ms {
						ts++
						for range perMs {
							v++
							br.Add(Sample{TsMs: ts, Value: float64(int(v) % 997), OK: int(v)%7 != 0})
						}
					}
				}
				fill(window)
				if _, c := br.Aggregate(ts); c != n {
					b.Fatalf("window holds %d samples, want %d", c, n)
				}
				br.Evaluate(ts)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					b.StopTimer()
					fill(10)
					b.StartTimer()
					if _, changed := br.Evaluate(ts); changed {
						b.Fatal("unexpected transition")
					}
				}
			})
		}
	}
}
