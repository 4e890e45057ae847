package engine

import (
	"math"
	"math/bits"
	"slices"
)

// percentileOf returns the percentile a kind computes, or 0 for kinds that
// are not percentiles.
func percentileOf(kind string, p float64) float64 {
	switch kind {
	case KindP95:
		return 95
	case KindPercentile:
		return p
	}
	return 0
}

// windowAggregate computes cfg's aggregate over the breaker's main window,
// using the running sums where the kind allows it. w must be synced.
func windowAggregate(cfg *Config, w *window) (float64, int) {
	n := w.count
	if n == 0 {
		return 0, 0
	}
	fn := float64(n)
	switch cfg.Kind {
	case KindCount:
		return fn, n
	case KindErrorRate:
		return float64(w.fails) / fn, n
	case KindSum:
		return w.ref*fn + w.sum.value(), n
	case KindAvg:
		return w.ref + w.sum.value()/fn, n
	case KindStddev:
		m := w.sum.value() / fn
		return math.Sqrt(max(0, w.sumSq.value()/fn-m*m)), n
	}
	a, b := w.inWindow()
	return aggregate(cfg.Kind, cfg.percentile, a, b, &w.scratch), len(a) + len(b)
}

// aggregate computes kind over the samples of a followed by those of b
// (together ordered by timestamp, then arrival). No samples yield 0. scratch
// is reused for percentiles.
func aggregate(kind string, p float64, a, b []Sample, scratch *[]float64) float64 {
	n := len(a) + len(b)
	if n == 0 {
		return 0
	}
	if len(a) == 0 {
		a, b = b, nil
	}
	segs := [2][]Sample{a, b}
	switch kind {
	case KindCount:
		return float64(n)
	case KindErrorRate:
		fails := 0
		for _, seg := range segs {
			for i := range seg {
				if !seg[i].OK {
					fails++
				}
			}
		}
		return float64(fails) / float64(n)
	case KindSum:
		return sumOf(a) + sumOf(b)
	case KindAvg:
		return (sumOf(a) + sumOf(b)) / float64(n)
	case KindStddev:
		m := (sumOf(a) + sumOf(b)) / float64(n)
		var ss float64
		for _, seg := range segs {
			for i := range seg {
				d := seg[i].Value - m
				ss += d * d
			}
		}
		return math.Sqrt(ss / float64(n))
	case KindMax:
		v := a[0].Value
		for _, seg := range segs {
			for i := range seg {
				v = max(v, seg[i].Value)
			}
		}
		return v
	case KindMin:
		v := a[0].Value
		for _, seg := range segs {
			for i := range seg {
				v = min(v, seg[i].Value)
			}
		}
		return v
	case KindConsecutiveFailures:
		run := 0
		for _, seg := range [2][]Sample{b, a} {
			for i := len(seg) - 1; i >= 0; i-- {
				if seg[i].OK {
					return float64(run)
				}
				run++
			}
		}
		return float64(run)
	case KindDelta:
		last := a[len(a)-1]
		if len(b) > 0 {
			last = b[len(b)-1]
		}
		return last.Value - a[0].Value
	case KindP95, KindPercentile:
		vals := (*scratch)[:0]
		for _, seg := range segs {
			for i := range seg {
				vals = append(vals, seg[i].Value)
			}
		}
		*scratch = vals
		return nearestRank(vals, percentileOf(kind, p))
	}
	return 0
}

func sumOf(s []Sample) float64 {
	var t float64
	for i := range s {
		t += s[i].Value
	}
	return t
}

// nearestRank returns the p-th percentile of vals by the nearest-rank
// method: the smallest value v such that at least p% of vals are <= v.
// vals is reordered.
func nearestRank(vals []float64, p float64) float64 {
	n := len(vals)
	k := int(math.Ceil(p*float64(n)/100-1e-9)) - 1
	k = min(max(k, 0), n-1)
	return selectKth(vals, k)
}

// selectKth returns the k-th smallest element (0-based) of a, partially
// reordering a. Expected O(len(a)); falls back to sorting when partitioning
// degenerates.
func selectKth(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	depth := 2 * bits.Len(uint(len(a)))
	for hi > lo {
		if hi-lo < 16 || depth == 0 {
			slices.Sort(a[lo : hi+1])
			return a[k]
		}
		depth--
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// holds reports whether "v op threshold" is true.
func holds(op string, v, threshold float64) bool {
	switch op {
	case OpGt:
		return v > threshold
	case OpLt:
		return v < threshold
	case OpGte:
		return v >= threshold
	case OpLte:
		return v <= threshold
	}
	return false
}
