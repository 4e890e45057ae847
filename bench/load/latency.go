package main

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// reservoirSize is the most timing pairs one caller keeps.
const reservoirSize = 8192

// pairs is a uniform random sample (Algorithm R) of the timing pairs seen
// by one caller: the task called directly and through Execute, in
// nanoseconds. Not safe for concurrent use.
type pairs struct {
	direct, exec []int64
	seen         uint64
	rng          *rand.Rand
}

func newPairs(seed uint64) *pairs {
	return &pairs{
		direct: make([]int64, 0, reservoirSize),
		exec:   make([]int64, 0, reservoirSize),
		rng:    rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
	}
}

func (p *pairs) add(direct, exec time.Duration) {
	p.seen++
	if len(p.direct) < reservoirSize {
		p.direct = append(p.direct, int64(direct))
		p.exec = append(p.exec, int64(exec))
		return
	}
	if j := p.rng.Uint64N(p.seen); j < reservoirSize {
		p.direct[j], p.exec[j] = int64(direct), int64(exec)
	}
}

// Quantiles summarises a latency distribution.
type Quantiles struct {
	P50, P99 time.Duration
}

type weighted struct {
	v int64
	w float64
}

// summarize merges the callers' reservoirs, weighting each kept pair by the
// number of pairs it stands for, and returns the quantiles of the direct
// call, the Execute call and their difference, with the number of pairs
// seen.
func summarize(all []*pairs) (direct, exec, overhead Quantiles, seen uint64) {
	var d, e, o []weighted
	for _, p := range all {
		if len(p.direct) == 0 {
			continue
		}
		seen += p.seen
		w := float64(p.seen) / float64(len(p.direct))
		for i := range p.direct {
			d = append(d, weighted{p.direct[i], w})
			e = append(e, weighted{p.exec[i], w})
			o = append(o, weighted{p.exec[i] - p.direct[i], w})
		}
	}
	return quantiles(d), quantiles(e), quantiles(o), seen
}

func quantiles(xs []weighted) Quantiles {
	if len(xs) == 0 {
		return Quantiles{}
	}
	slices.SortFunc(xs, func(a, b weighted) int { return cmp.Compare(a.v, b.v) })
	var total float64
	for _, x := range xs {
		total += x.w
	}
	return Quantiles{P50: quantile(xs, total, 0.50), P99: quantile(xs, total, 0.99)}
}

// quantile returns the smallest value whose cumulative weight reaches q of
// total; xs is sorted.
func quantile(xs []weighted, total, q float64) time.Duration {
	target := q * total
	var cum float64
	for _, x := range xs {
		cum += x.w
		if cum >= target {
			return time.Duration(x.v)
		}
	}
	return time.Duration(xs[len(xs)-1].v)
}
