package exporter

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestExpansionInvariants checks, over random histograms, that expansion
// emits the asked number of samples in ascending order, each inside its
// bucket, with bucket shares within one sample of proportional, the
// extremes at min and max, and the mean equal to the point's mean when
// the buckets allow it.
func TestExpansionInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var x expansion
	for trial := range 500 {
		var h hist
		nb := 1 + rng.IntN(30)
		edge := rng.Float64() * 10
		for range nb {
			w := rng.Float64() * 5
			n := uint64(rng.IntN(4000))
			if rng.IntN(3) == 0 {
				n = 0
			}
			h.add(edge, edge+w, n)
			edge += w
		}
		if h.count < 2 {
			continue
		}
		first, last := h.buckets[0], h.buckets[len(h.buckets)-1]
		h.min, h.hasMin = first.lo+rng.Float64()*(first.hi-first.lo), true
		h.max, h.hasMax = last.hi-rng.Float64()*(last.hi-last.lo), true
		if h.min > h.max {
			h.min, h.max = h.max, h.min
		}
		h.finish()
		// A reachable sum: measurements at min and max, the others at
		// random places in their buckets.
		sum := h.min + h.max
		for i, b := range h.buckets {
			n := b.n
			if i == 0 {
				n--
			}
			if i == len(h.buckets)-1 {
				n--
			}
			for range n {
				sum += b.lo + rng.Float64()*(b.hi-b.lo)
			}
		}
		h.sum, h.hasSum = sum, true

		m := h.count
		if rng.IntN(2) == 0 {
			m = uint64(1 + rng.IntN(int(h.count)))
		}
		x.expand(&h, m)
		if uint64(len(x.values)) != m {
			t.Fatalf("trial %d: %d samples, want %d", trial, len(x.values), m)
		}
		if !slices.IsSorted(x.values) {
			t.Fatalf("trial %d: samples not ascending", trial)
		}
		for i, b := range h.buckets {
			got := x.starts[i+1] - x.starts[i]
			share := float64(b.n) * float64(m) / float64(h.count)
			if math.Abs(float64(got)-share) >= 1 {
				t.Fatalf("trial %d bucket %d: %d samples, proportional share %.2f", trial, i, got, share)
			}
			for _, v := range x.values[x.starts[i]:x.starts[i+1]] {
				if v < b.lo-1e-9 || v > b.hi+1e-9 {
					t.Fatalf("trial %d bucket %d [%v, %v]: sample %v outside", trial, i, b.lo, b.hi, v)
				}
			}
		}
		if m >= 2 && m == h.count && (x.values[0] != h.min || x.values[m-1] != h.max) {
			t.Fatalf("trial %d: extremes %v, %v; want %v, %v", trial, x.values[0], x.values[m-1], h.min, h.max)
		}
		if m == h.count && m >= 2 {
			var s float64
			for _, v := range x.values {
				s += v
			}
			if math.Abs(s-h.sum) > 1e-6*math.Max(1, math.Abs(h.sum)) {
				t.Fatalf("trial %d: sample sum %v, want %v", trial, s, h.sum)
			}
		}
	}
}
