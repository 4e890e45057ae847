package exporter

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// expansion holds the representative samples of one histogram point.
//
// Each bucket with n measurements gets n samples (or, down-sampled to m
// samples in all, its share of m by largest-remainder rounding), spread
// evenly inside the bucket at lo + (k+½)·(hi−lo)/n. The lowest sample is
// then set to the point's minimum and the highest to its maximum when the
// point has them and their buckets got samples. Last, when the point has a
// sum, the other samples are moved toward their buckets' upper (or lower)
// bounds by a common fraction of the room they have, so that the samples'
// mean equals the point's mean whenever the buckets allow it. No sample
// leaves its bucket, so percentiles stay within bucket resolution.
type expansion struct {
	counts []uint64  // samples per bucket
	rems   []uint64  // rounding remainders per bucket
	order  []int     // buckets by descending remainder
	lo     []float64 // start of bucket b's samples
	step   []float64 // spacing of bucket b's samples
	values []float64 // the samples, ascending
	starts []int     // values[starts[b]:starts[b+1]] are bucket b's
	traces []string  // trace ID per bucket, from exemplars
}

// expand computes m samples (at most h.count) for h.
func (x *expansion) expand(h *hist, m uint64) {
	nb := len(h.buckets)
	x.counts = resize(x.counts, nb)
	n := h.count
	if m >= n {
		m = n
		for i := range h.buckets {
			x.counts[i] = h.buckets[i].n
		}
	} else {
		x.rems = resize(x.rems, nb)
		x.order = x.order[:0]
		var given uint64
		for i := range h.buckets {
			hi, lo := bits.Mul64(h.buckets[i].n, m)
			q, r := bits.Div64(hi, lo, n)
			x.counts[i], x.rems[i] = q, r
			given += q
			if r > 0 {
				x.order = append(x.order, i)
			}
		}
		rems := x.rems
		slices.SortFunc(x.order, func(a, b int) int {
			if c := cmp.Compare(rems[b], rems[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		for _, i := range x.order[:m-given] {
			x.counts[i]++
		}
	}

	// Sample k of bucket i is at lo[i] + (k+½)·step[i].
	x.lo = resize(x.lo, nb)
	x.step = resize(x.step, nb)
	first, last := -1, -1
	for i := range h.buckets {
		b := &h.buckets[i]
		x.lo[i], x.step[i] = b.lo, 0
		if c := x.counts[i]; c > 0 {
			x.step[i] = (b.hi - b.lo) / float64(c)
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	pinLo := m >= 2 && h.hasMin && h.buckets[first].lo == h.min
	pinHi := m >= 2 && h.hasMax && h.buckets[last].hi == h.max
	if h.hasSum && m > 0 {
		x.fitMean(h, m, first, last, pinLo, pinHi)
	}

	x.values = resize(x.values, int(m))
	x.starts = resize(x.starts, nb+1)
	pos := 0
	for i := range h.buckets {
		x.starts[i] = pos
		lo, step := x.lo[i], x.step[i]
		for k := range x.counts[i] {
			x.values[pos] = lo + (float64(k)+0.5)*step
			pos++
		}
	}
	x.starts[nb] = pos
	if pinLo {
		x.values[0] = h.min
	}
	if pinHi {
		x.values[m-1] = h.max
	}
}

// fitMean moves the samples of every bucket toward its upper (or lower)
// bound by a common fraction t of their room, chosen so that the samples'
// mean is the point's mean; see expansion. Evenly spaced samples stay
// evenly spaced, so only each bucket's start and step change.
func (x *expansion) fitMean(h *hist, m uint64, first, last int, pinLo, pinHi bool) {
	var total, room float64 // room: the sum of (hi − v), equal to that of (v − lo)
	for i := range h.buckets {
		c := float64(x.counts[i])
		b := &h.buckets[i]
		total += c * (b.lo + b.hi) / 2
		room += c * (b.hi - b.lo) / 2
	}
	var up, down float64 = room, room
	if pinLo {
		b := &h.buckets[first]
		v := x.lo[first] + 0.5*x.step[first]
		total += h.min - v
		up -= b.hi - v
		down -= v - b.lo
	}
	if pinHi {
		b := &h.buckets[last]
		v := x.lo[last] + (float64(x.counts[last])-0.5)*x.step[last]
		total += h.max - v
		up -= b.hi - v
		down -= v - b.lo
	}
	target := h.sum * float64(m) / float64(h.count)
	need := target - total
	if math.Abs(need) <= 1e-12*math.Abs(target) || math.IsNaN(need) || math.IsInf(need, 0) {
		return
	}
	switch {
	case need > 0 && up > 0:
		t := min(1, need/up)
		for i := range h.buckets {
			x.lo[i] += t * (h.buckets[i].hi - h.buckets[i].lo)
			x.step[i] *= 1 - t
		}
	case need < 0 && down > 0:
		t := min(1, -need/down)
		for i := range h.buckets {
			x.step[i] *= 1 - t
		}
	}
}

// assignTraces gives each bucket the trace ID of an exemplar recorded in
// it (the last such exemplar), or none.
func (x *expansion) assignTraces(h *hist) {
	nb := len(h.buckets)
	x.traces = resize(x.traces, nb)
	clear(x.traces)
	for _, ex := range h.exemplars {
		b := sort.Search(nb, func(i int) bool { return h.buckets[i].hi >= ex.value })
		if b == nb {
			b = nb - 1
		}
		if b >= 0 {
			x.traces[b] = traceString(ex.trace)
		}
	}
}
