package engine

import (
	"cmp"
	"math"
	"slices"
)

// MaxSamples is the most samples one Breaker stores. Beyond it the oldest
// stored samples are dropped, so at very high rates a breaker's window holds
// the most recent MaxSamples samples rather than all of window_ms. At the cap
// a breaker uses about 35 MB.
const MaxSamples = 1_000_000

const (
	// pendingMin is the smallest backlog of out-of-order samples that Add
	// merges on its own; reads merge any backlog first.
	pendingMin = 4096
	// ringMin is the smallest ring allocated, and the size below which
	// buffers are never shrunk is shrinkMin.
	ringMin   = 64
	shrinkMin = 1 << 14
	// recomputeSlack bounds float drift of the running sums: they are
	// recomputed from the samples once more than the window's size plus
	// this many samples have been subtracted since the last recomputation.
	recomputeSlack = 4096
)

// Sample is one measurement of the breaker's metric.
type Sample struct {
	TsMs  int64   // Unix milliseconds, as sent by the client
	Value float64 // the measurement
	OK    bool    // false when the task failed
}

// window stores a breaker's samples ordered by (timestamp, arrival) in a
// ring, and keeps running sums over the samples newer than cut.
//
// In-order samples are appended to the ring; a sample older than the newest
// stored one waits in pending until the next read (or until pending grows
// large) and is then merged in. For equal timestamps the merge keeps arrival
// order: a pending sample arrived after every stored sample with the same
// timestamp, because it is pending precisely because a newer sample had
// already been stored, and the ring's newest timestamp never decreases while
// the ring is non-empty.
type window struct {
	ring    []Sample // len is 0 or a power of two
	head    int      // ring index of the oldest stored sample
	n       int      // samples in the ring
	pending []Sample
	limit   int

	// Running sums over stored samples (ring and pending) with TsMs > cut.
	// sum and sumSq are of value-ref, compensated, to limit rounding and
	// cancellation.
	cut     int64
	dirty   bool
	count   int
	fails   int
	ref     float64
	sum     ksum
	sumSq   ksum
	removed int

	scratch []float64
}

func newWindow(cut int64) window {
	return window{limit: MaxSamples, cut: cut}
}

// at returns the i-th oldest sample of the ring.
func (w *window) at(i int) *Sample { return &w.ring[(w.head+i)&(len(w.ring)-1)] }

func (w *window) size() int { return w.n + len(w.pending) }

func (w *window) add(s Sample) {
	if s.Value-s.Value != 0 { // NaN or ±Inf
		s.Value = sanitize(s.Value)
	}
	if s.TsMs > w.cut {
		w.include(s)
	}
	if (w.n > 0 && s.TsMs >= w.at(w.n-1).TsMs) || (w.n == 0 && len(w.pending) == 0) {
		if w.n == len(w.ring) {
			w.grow(w.n + 1)
		}
		*w.at(w.n) = s
		w.n++
	} else {
		w.pending = append(w.pending, s)
		if len(w.pending) >= max(pendingMin, w.n/8) {
			w.merge()
		}
	}
	if w.size() > w.limit {
		w.dropOldest()
	}
}

func sanitize(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v > 0:
		return math.MaxFloat64
	default:
		return -math.MaxFloat64
	}
}

// grow reallocates the ring to hold at least need samples, in order from
// index 0.
func (w *window) grow(need int) {
	size := max(ringMin, len(w.ring))
	for size < need {
		size *= 2
	}
	w.resize(size)
}

func (w *window) resize(size int) {
	nr := make([]Sample, size)
	a, b := w.segs(0, w.n)
	copy(nr[copy(nr, a):], b)
	w.ring, w.head = nr, 0
}

// segs returns the ring samples with logical indices [i, j) as at most two
// contiguous slices, oldest first. Valid until the ring changes.
func (w *window) segs(i, j int) (a, b []Sample) {
	if i >= j {
		return nil, nil
	}
	s := (w.head + i) & (len(w.ring) - 1)
	e := s + (j - i)
	if e <= len(w.ring) {
		return w.ring[s:e], nil
	}
	return w.ring[s:], w.ring[:e-len(w.ring)]
}

// ksum is a compensated (Neumaier) running sum: adding a term and later
// adding its negation restores the previous total almost exactly.
type ksum struct{ s, c float64 }

func (k *ksum) add(x float64) {
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

func (k *ksum) value() float64 { return k.s + k.c }

func (k *ksum) finite() bool { return isFinite(k.s) && isFinite(k.c) }

func isFinite(f float64) bool { return f-f == 0 }

func (w *window) include(s Sample) {
	if w.count == 0 {
		w.ref, w.sum, w.sumSq = s.Value, ksum{}, ksum{}
	}
	w.count++
	if !s.OK {
		w.fails++
	}
	d := s.Value - w.ref
	w.sum.add(d)
	w.sumSq.add(d * d)
}

func (w *window) exclude(s Sample) {
	w.count--
	if !s.OK {
		w.fails--
	}
	w.removed++
	if w.count <= 0 {
		w.count, w.fails, w.sum, w.sumSq = 0, 0, ksum{}, ksum{}
		return
	}
	d := s.Value - w.ref
	w.sum.add(-d)
	w.sumSq.add(-d * d)
}

func (w *window) dropOldest() {
	if w.n == 0 {
		w.merge()
		if w.n == 0 {
			return
		}
	}
	s := *w.at(0)
	w.dropFront(1)
	if s.TsMs > w.cut {
		w.exclude(s)
	}
}

func (w *window) dropFront(k int) {
	w.head = (w.head + k) & (len(w.ring) - 1)
	w.n -= k
	if w.n == 0 {
		w.head = 0
	}
}

func byTs(a, b Sample) int { return cmp.Compare(a.TsMs, b.TsMs) }

// merge moves pending samples into the ring, keeping (timestamp, arrival)
// order.
func (w *window) merge() {
	p := len(w.pending)
	if p == 0 {
		return
	}
	slices.SortStableFunc(w.pending, byTs)
	if w.n+p > len(w.ring) {
		w.grow(w.n + p)
	}
	i, j, k := w.n-1, p-1, w.n+p-1
	for j >= 0 {
		if i >= 0 && w.at(i).TsMs > w.pending[j].TsMs {
			*w.at(k) = *w.at(i)
			i--
		} else {
			*w.at(k) = w.pending[j]
			j--
		}
		k--
	}
	w.n += p
	w.pending = w.pending[:0]
}

// after returns the logical index of the first ring sample with TsMs > ts.
func (w *window) after(ts int64) int {
	lo, hi := 0, w.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if w.at(m).TsMs > ts {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// sync brings the store up to date for time now: merges out-of-order
// samples, slides the running sums to (now-windowMs, ∞), and drops samples
// that are older than both windowMs and horizonMs.
func (w *window) sync(now, windowMs, horizonMs int64) {
	w.merge()
	cut := now - windowMs
	switch {
	case w.dirty || cut < w.cut:
		w.recompute(cut)
	case cut > w.cut:
		a, b := w.segs(w.after(w.cut), w.after(cut))
		for _, s := range a {
			w.exclude(s)
		}
		for _, s := range b {
			w.exclude(s)
		}
		w.cut = cut
		if w.removed > w.count+recomputeSlack {
			w.recompute(cut)
		}
	}
	if !w.sum.finite() || !w.sumSq.finite() || w.offCentre() {
		w.recompute(cut)
	}
	w.dropFront(w.after(now - max(windowMs, horizonMs)))
	w.shrink()
}

// offCentre reports whether ref has drifted so far from the window's mean
// that the variance would suffer from cancellation.
func (w *window) offCentre() bool {
	if w.count == 0 {
		return false
	}
	fn := float64(w.count)
	m := w.sum.value() / fn
	v := w.sumSq.value()/fn - m*m
	tiny := 1e-12 * max(1, math.Abs(w.ref))
	return m*m > 1e4*max(v, 0) && math.Abs(m) > tiny
}

// recompute rebuilds the running sums over the samples with TsMs > cut,
// shifted by their mean.
func (w *window) recompute(cut int64) {
	w.merge()
	w.cut, w.dirty, w.removed = cut, false, 0
	w.count, w.fails, w.sum, w.sumSq = 0, 0, ksum{}, ksum{}
	a, b := w.inWindow()
	if len(a)+len(b) == 0 {
		return
	}
	var mean ksum
	for _, s := range a {
		mean.add(s.Value)
	}
	for _, s := range b {
		mean.add(s.Value)
	}
	w.ref = mean.value() / float64(len(a)+len(b))
	for _, seg := range [2][]Sample{a, b} {
		for _, s := range seg {
			w.count++
			if !s.OK {
				w.fails++
			}
			d := s.Value - w.ref
			w.sum.add(d)
			w.sumSq.add(d * d)
		}
	}
}

// shrink releases buffers that are mostly unused after traffic dropped.
func (w *window) shrink() {
	if len(w.ring) > shrinkMin && w.n*8 < len(w.ring) {
		size := shrinkMin / 2
		for size < 2*w.n {
			size *= 2
		}
		w.resize(size)
	}
	if cap(w.pending) > shrinkMin && len(w.pending) == 0 {
		w.pending = nil
	}
	if cap(w.scratch) > shrinkMin && w.n*8 < cap(w.scratch) {
		w.scratch = nil
	}
}

// inWindow returns the stored samples with TsMs > cut, oldest first, as at
// most two slices. Valid until the next add or sync; pending samples must
// have been merged.
func (w *window) inWindow() (a, b []Sample) {
	return w.segs(w.after(w.cut), w.n)
}

// since returns the stored samples with TsMs >= ts like inWindow.
func (w *window) since(ts int64) (a, b []Sample) {
	return w.segs(w.after(ts-1), w.n)
}
