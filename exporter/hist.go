package exporter

import (
	"math"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// bucket is a value range [lo, hi] holding n measurements.
type bucket struct {
	lo, hi float64
	n      uint64
}

// hist is a histogram data point in the form shared by explicit-bucket and
// exponential histograms: its non-empty buckets in ascending order, with
// finite bounds once finish has run.
type hist struct {
	buckets        []bucket
	count          uint64 // sum of the bucket counts
	sum            float64
	hasSum         bool
	min, max       float64
	hasMin, hasMax bool
	exemplars      []exemplar
}

// exemplar is the value and trace ID of an exemplar; trace refers into the
// exported data and is cleared when Export returns.
type exemplar struct {
	value float64
	trace []byte
}

func (h *hist) reset() {
	clear(h.exemplars)
	*h = hist{buckets: h.buckets[:0], exemplars: h.exemplars[:0]}
}

func (h *hist) add(lo, hi float64, n uint64) {
	if n == 0 {
		return
	}
	h.buckets = append(h.buckets, bucket{lo: lo, hi: hi, n: n})
	h.count += n
}

// addExplicit adds the buckets of an explicit-bucket histogram, less prev
// (the previous cumulative counts, nil for none).
func (h *hist) addExplicit(bounds []float64, counts, prev []uint64) {
	n := min(len(counts), len(bounds)+1)
	for i := range n {
		c := counts[i]
		if prev != nil {
			c -= prev[i]
		}
		lo, hi := math.Inf(-1), math.Inf(1)
		if i > 0 {
			lo = bounds[i-1]
		}
		if i < len(bounds) {
			hi = bounds[i]
		}
		h.add(lo, hi, c)
	}
}

// addExponential adds the buckets of an exponential histogram of the given
// scale: negative buckets, the zero bucket, positive buckets.
func (h *hist) addExponential(scale int32, zero uint64, posOff int32, pos []uint64, negOff int32, neg []uint64) {
	for j := len(neg) - 1; j >= 0; j-- {
		i := negOff + int32(j)
		h.add(-expBound(i+1, scale), -expBound(i, scale), neg[j])
	}
	h.add(0, 0, zero)
	for j, c := range pos {
		i := posOff + int32(j)
		h.add(expBound(i, scale), expBound(i+1, scale), c)
	}
}

// expBound returns base^i for base = 2^(2^-scale).
func expBound(i, scale int32) float64 {
	return math.Exp2(math.Ldexp(float64(i), -int(scale)))
}

func setExtrema[N int64 | float64](h *hist, lo, hi metricdata.Extrema[N]) {
	if v, ok := lo.Value(); ok {
		h.min, h.hasMin = float64(v), true
	}
	if v, ok := hi.Value(); ok {
		h.max, h.hasMax = float64(v), true
	}
}

func addExemplars[N int64 | float64](h *hist, ex []metricdata.Exemplar[N]) {
	for i := range ex {
		if validTraceID(ex[i].TraceID) {
			h.exemplars = append(h.exemplars, exemplar{value: float64(ex[i].Value), trace: ex[i].TraceID})
		}
	}
}

// finish gives every bucket finite bounds inside [min, max] when the point
// has them. An open lower bucket without a minimum starts at 0 when its
// upper bound is positive (durations, sizes) and at its upper bound
// otherwise; an open upper bucket without a maximum is its lower bound; a
// histogram without bounds at all is its mean.
func (h *hist) finish() {
	minV, maxV := math.Inf(-1), math.Inf(1)
	if h.hasMin {
		minV = h.min
	}
	if h.hasMax {
		maxV = h.max
	}
	for i := range h.buckets {
		b := &h.buckets[i]
		lo, hi := max(b.lo, minV), min(b.hi, maxV)
		switch {
		case math.IsInf(lo, -1) && math.IsInf(hi, 1):
			v := 0.0
			if h.hasSum && h.count > 0 {
				v = h.sum / float64(h.count)
			}
			lo, hi = v, v
		case math.IsInf(lo, -1):
			lo = min(0, hi)
		case math.IsInf(hi, 1):
			hi = lo
		}
		if lo > hi { // a bucket outside [min, max]
			if b.hi < minV {
				lo, hi = minV, minV
			} else {
				lo, hi = maxV, maxV
			}
		}
		b.lo, b.hi = lo, hi
	}
}

// histState is the previous cumulative point of a histogram stream.
type histState struct {
	count  uint64
	sum    float64
	bounds []float64
	counts []uint64
	scale  int32
	zero   uint64
	posOff int32
	negOff int32
	pos    []uint64
	neg    []uint64
}

// downscale re-buckets counts (starting at index off) to a scale shift
// steps coarser, into dst.
func downscale(off int32, counts []uint64, shift int32, dst []uint64) (int32, []uint64) {
	if len(counts) == 0 || shift == 0 {
		return off, append(dst[:0], counts...)
	}
	first := off >> shift
	last := (off + int32(len(counts)) - 1) >> shift
	dst = resize(dst, int(last-first+1))
	clear(dst)
	for j, c := range counts {
		dst[((off+int32(j))>>shift)-first] += c
	}
	return first, dst
}

// subtract returns counts (at index off) less prev (at index poff) in dst,
// and false when prev does not fit under counts (a reset).
func subtract(off int32, counts []uint64, poff int32, prev []uint64, dst []uint64) ([]uint64, bool) {
	dst = append(dst[:0], counts...)
	for j, c := range prev {
		if c == 0 {
			continue
		}
		i := int(poff) + j - int(off)
		if i < 0 || i >= len(dst) || dst[i] < c {
			return dst, false
		}
		dst[i] -= c
	}
	return dst, true
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
