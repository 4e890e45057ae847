package exporter

import "math"

// reduceHist returns the one sample rule r reduces h to, and false when
// h has no such value (no measurements for a mean, minimum, maximum or
// percentile).
func reduceHist(h *hist, r *rule) (float64, bool) {
	switch r.Reduce {
	case ReduceCount:
		return float64(h.count), true
	case ReduceSum:
		return h.sum, h.hasSum || h.count == 0
	}
	if h.count == 0 || len(h.buckets) == 0 {
		return 0, false
	}
	switch r.Reduce {
	case ReduceMean:
		if h.hasSum {
			return h.sum / float64(h.count), true
		}
		var s float64
		for _, b := range h.buckets {
			s += float64(b.n) * (b.lo + b.hi) / 2
		}
		return s / float64(h.count), true
	case ReduceMin:
		if h.hasMin {
			return h.min, true
		}
		return h.buckets[0].lo, true
	case ReduceMax:
		if h.hasMax {
			return h.max, true
		}
		return h.buckets[len(h.buckets)-1].hi, true
	case ReducePercentile:
		return percentile(h, r.Percentile), true
	}
	return 0, false
}

// percentile estimates the p-th percentile of h by linear interpolation
// inside the bucket that holds rank p/100·count.
func percentile(h *hist, p float64) float64 {
	rank := p / 100 * float64(h.count)
	var cum float64
	for _, b := range h.buckets {
		n := float64(b.n)
		if cum+n >= rank {
			f := max(0, (rank-cum)/n)
			return b.lo + f*(b.hi-b.lo)
		}
		cum += n
	}
	return h.buckets[len(h.buckets)-1].hi
}

// nearestTrace returns the trace ID of the exemplar whose value is nearest
// v, "" when h has none.
func nearestTrace(h *hist, v float64) string {
	best, bestD := -1, math.Inf(1)
	for i, ex := range h.exemplars {
		if d := math.Abs(ex.value - v); d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return ""
	}
	return traceString(h.exemplars[best].trace)
}
