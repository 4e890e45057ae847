package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

const t0 = int64(1_700_000_000_000)

// handData: values 10..50, ok pattern T F T F F, one second apart.
func handData() []Sample {
	return []Sample{
		{TsMs: t0 + 1000, Value: 10, OK: true},
		{TsMs: t0 + 2000, Value: 20, OK: false},
		{TsMs: t0 + 3000, Value: 30, OK: true},
		{TsMs: t0 + 4000, Value: 40, OK: false},
		{TsMs: t0 + 5000, Value: 50, OK: false},
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestAggregateKinds(t *testing.T) {
	tests := []struct {
		kind string
		pct  float64
		want float64
	}{
		{KindErrorRate, 0, 0.6},
		{KindAvg, 0, 30},
		{KindSum, 0, 150},
		{KindStddev, 0, math.Sqrt(200)},
		{KindMax, 0, 50},
		{KindMin, 0, 10},
		{KindCount, 0, 5},
		{KindConsecutiveFailures, 0, 2},
		{KindDelta, 0, 40},
		{KindP95, 0, 50},           // rank ceil(4.75) = 5
		{KindPercentile, 50, 30},   // rank ceil(2.5) = 3
		{KindPercentile, 20, 10},   // rank 1
		{KindPercentile, 40, 20},   // rank 2
		{KindPercentile, 100, 50},  // rank 5
		{KindPercentile, 0.1, 10},  // rank 1
		{KindPercentile, 80.5, 50}, // rank ceil(4.025) = 5
	}
	for _, tt := range tests {
		t.Run(kindLabel(tt.kind, tt.pct), func(t *testing.T) {
			cfg := Config{Metric: "m", Kind: tt.kind, KindParams: pct(tt.pct), Op: OpGt, Threshold: 1e9}
			b := New(cfg, t0)
			// Arrive in reverse order: the aggregate must follow timestamps.
			data := handData()
			for i := len(data) - 1; i >= 0; i-- {
				b.Add(data[i])
			}
			got, n := b.Aggregate(t0 + 6000)
			if n != 5 || !approx(got, tt.want) {
				t.Fatalf("Aggregate = %v over %d samples, want %v over 5", got, n, tt.want)
			}
			// Every split of the data into two segments gives the same.
			var scratch []float64
			for cut := range len(data) + 1 {
				d := handData()
				if got := aggregate(tt.kind, tt.pct, d[:cut], d[cut:], &scratch); !approx(got, tt.want) {
					t.Fatalf("aggregate over segments split at %d = %v, want %v", cut, got, tt.want)
				}
			}
		})
	}
}

func TestAggregateEmptyAndSingle(t *testing.T) {
	for _, k := range kinds {
		b := New(Config{Metric: "m", Kind: k, KindParams: pct(99), Op: OpGt}, t0)
		if v, n := b.Aggregate(t0); v != 0 || n != 0 {
			t.Errorf("%s on empty window = (%v, %d), want (0, 0)", k, v, n)
		}
		b.Add(Sample{TsMs: t0, Value: 7, OK: false})
		v, n := b.Aggregate(t0)
		want := map[string]float64{
			KindErrorRate: 1, KindAvg: 7, KindSum: 7, KindStddev: 0, KindMax: 7, KindMin: 7,
			KindCount: 1, KindConsecutiveFailures: 1, KindDelta: 0, KindP95: 7, KindPercentile: 7,
		}[k]
		if n != 1 || !approx(v, want) {
			t.Errorf("%s on one sample = (%v, %d), want (%v, 1)", k, v, n, want)
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	seq := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[n-1-i] = float64(i + 1) // descending, so selection has work to do
		}
		return v
	}
	tests := []struct {
		n    int
		p    float64
		want float64
	}{
		{20, 95, 19},
		{100, 95, 95},
		{1000, 99, 990},
		{1000, 99.9, 999},
		{3, 50, 2},
		{4, 50, 2},
		{10, 100, 10},
	}
	for _, tt := range tests {
		if got := nearestRank(seq(tt.n), tt.p); got != tt.want {
			t.Errorf("p%v of 1..%d = %v, want %v", tt.p, tt.n, got, tt.want)
		}
	}
}

func TestSelectKthMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + r.IntN(3000)
		a := make([]float64, n)
		for i := range a {
			switch trial % 3 {
			case 0:
				a[i] = r.NormFloat64()
			case 1:
				a[i] = float64(r.IntN(5)) // many duplicates
			default:
				a[i] = float64(i) // sorted input
			}
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		k := r.IntN(n)
		if got := selectKth(a, k); got != sorted[k] {
			t.Fatalf("trial %d: selectKth(n=%d, k=%d) = %v, want %v", trial, n, k, got, sorted[k])
		}
	}
}

func TestOps(t *testing.T) {
	tests := []struct {
		op   string
		v    float64
		want bool
	}{
		{OpGt, 11, true}, {OpGt, 10, false}, {OpGt, 9, false},
		{OpGte, 11, true}, {OpGte, 10, true}, {OpGte, 9, false},
		{OpLt, 11, false}, {OpLt, 10, false}, {OpLt, 9, true},
		{OpLte, 11, false}, {OpLte, 10, true}, {OpLte, 9, true},
	}
	for _, tt := range tests {
		// Observed through a breaker: avg of one sample against threshold 10.
		b := New(Config{Metric: "m", Kind: KindAvg, Op: tt.op, Threshold: 10}, t0)
		b.Add(Sample{TsMs: t0, Value: tt.v, OK: true})
		_, tripped := b.Evaluate(t0 + 1)
		if tripped != tt.want {
			t.Errorf("avg %v %s 10: tripped = %v, want %v", tt.v, tt.op, tripped, tt.want)
		}
	}
}
