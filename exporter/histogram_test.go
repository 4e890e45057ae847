package exporter_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
)

// testPoint is a histogram point with bounds 1, 2, 5, 10 and ten
// measurements: 2 in (-inf,1], 3 in (1,2], 4 in (5,10], 1 in (10,+inf).
func testPoint(attrs attribute.Set, withExtrema bool) metricdata.HistogramDataPoint[float64] {
	p := metricdata.HistogramDataPoint[float64]{
		Attributes:   attrs,
		StartTime:    epoch.Add(-time.Minute),
		Time:         epoch,
		Count:        10,
		Bounds:       []float64{1, 2, 5, 10},
		BucketCounts: []uint64{2, 3, 0, 4, 1},
		Sum:          45,
	}
	if withExtrema {
		p.Min, p.Max = metricdata.NewExtrema(0.5), metricdata.NewExtrema(12.0)
	}
	return p
}

func histRM(temporality metricdata.Temporality, pts ...metricdata.HistogramDataPoint[float64]) *metricdata.ResourceMetrics {
	return rmOf("s", metricdata.Metrics{Name: "h", Data: metricdata.Histogram[float64]{DataPoints: pts, Temporality: temporality}})
}

// inBuckets counts vals per bucket of bounds (upper bounds inclusive).
func inBuckets(vals, bounds []float64) []uint64 {
	counts := make([]uint64, len(bounds)+1)
	for _, v := range vals {
		i, _ := slices.BinarySearch(bounds, v)
		counts[i]++
	}
	return counts
}

func mean(vals []float64) float64 {
	var s float64
	for _, v := range vals {
		s += v
	}
	return s / float64(len(vals))
}

func TestHistogramDistribution(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "h", Router: "rtr", Metric: "h"}})
	if err := e.Export(context.Background(), histRM(metricdata.DeltaTemporality, testPoint(*attribute.EmptySet(), true))); err != nil {
		t.Fatal(err)
	}
	got := r.take()
	vals := values(got)
	if len(vals) != 10 {
		t.Fatalf("%d samples, want 10 (one per measurement)", len(vals))
	}
	if c := inBuckets(vals, []float64{1, 2, 5, 10}); !slices.Equal(c, []uint64{2, 3, 0, 4, 1}) {
		t.Errorf("samples per bucket %v, want [2 3 0 4 1] (%v)", c, vals)
	}
	if vals[0] != 0.5 || vals[9] != 12 {
		t.Errorf("lowest %v and highest %v samples, want the point's min 0.5 and max 12", vals[0], vals[9])
	}
	if m := mean(vals); math.Abs(m-4.5) > 1e-9 {
		t.Errorf("sample mean %v, want the point's mean 4.5", m)
	}
	for _, s := range got {
		if !s.Time.Equal(epoch) || !s.OK {
			t.Errorf("sample %+v: want time %v and ok", s, epoch)
		}
	}
}

func TestHistogramWithoutExtrema(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "h", Router: "rtr", Metric: "h"}})
	p := testPoint(*attribute.EmptySet(), false)
	p.Sum = 40
	if err := e.Export(context.Background(), histRM(metricdata.DeltaTemporality, p)); err != nil {
		t.Fatal(err)
	}
	vals := values(r.take())
	if len(vals) != 10 {
		t.Fatalf("%d samples, want 10", len(vals))
	}
	// The open buckets are taken as [0, 1] and [10, 10].
	if c := inBuckets(vals[:9], []float64{1, 2, 5, 10}); !slices.Equal(c, []uint64{2, 3, 0, 4, 0}) {
		t.Errorf("samples per bucket %v, want [2 3 0 4 0] and the overflow sample at 10 (%v)", c, vals)
	}
	if vals[0] < 0 || vals[9] != 10 {
		t.Errorf("lowest %v, highest %v: want >= 0 and 10", vals[0], vals[9])
	}
	if m := mean(vals); math.Abs(m-4) > 1e-9 {
		t.Errorf("sample mean %v, want 4", m)
	}
}

func TestHistogramReductions(t *testing.T) {
	tests := []struct {
		reduce     exporter.Reduce
		percentile float64
		extrema    bool
		want       float64
	}{
		{exporter.ReduceMean, 0, true, 4.5},
		{exporter.ReduceMin, 0, true, 0.5},
		{exporter.ReduceMax, 0, true, 12},
		{exporter.ReduceMin, 0, false, 0},
		{exporter.ReduceMax, 0, false, 10},
		{exporter.ReduceSum, 0, true, 45},
		{exporter.ReduceCount, 0, true, 10},
		{exporter.ReducePercentile, 50, true, 2},   // rank 5: the top of (1, 2]
		{exporter.ReducePercentile, 70, true, 7.5}, // rank 7: half-way through (5, 10]
		{exporter.ReducePercentile, 100, true, 12},
	}
	for _, tt := range tests {
		t.Run(tt.reduce.String(), func(t *testing.T) {
			e, r := newRecorded(t, []exporter.Rule{{Instrument: "h", Router: "rtr", Metric: "h", Reduce: tt.reduce, Percentile: tt.percentile}})
			if err := e.Export(context.Background(), histRM(metricdata.DeltaTemporality, testPoint(*attribute.EmptySet(), tt.extrema))); err != nil {
				t.Fatal(err)
			}
			got := values(r.take())
			if len(got) != 1 || math.Abs(got[0]-tt.want) > 1e-9 {
				t.Errorf("got %v, want [%v]", got, tt.want)
			}
		})
	}
}

func TestHistogramDownSamplingKeepsProportions(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "h", Router: "rtr", Metric: "h", OK: exporter.OKBelowHTTPStatus(500)}},
		exporter.WithMaxSamplesPerPoint(1000))
	bounds := []float64{0.1, 0.2, 0.5, 1}
	okPt := metricdata.HistogramDataPoint[float64]{
		Attributes: attribute.NewSet(attribute.Int("http.response.status_code", 200)),
		Time:       epoch, Count: 8000, Bounds: bounds, BucketCounts: []uint64{4000, 2000, 1000, 999, 1}, Sum: 1500,
	}
	failPt := metricdata.HistogramDataPoint[float64]{
		Attributes: attribute.NewSet(attribute.Int("http.response.status_code", 500)),
		Time:       epoch, Count: 2000, Bounds: bounds, BucketCounts: []uint64{0, 0, 0, 2000, 0}, Sum: 1800,
	}
	if err := e.Export(context.Background(), histRM(metricdata.DeltaTemporality, okPt, failPt)); err != nil {
		t.Fatal(err)
	}
	var okVals, failVals []float64
	for _, s := range r.take() {
		if s.OK {
			okVals = append(okVals, s.Value)
		} else {
			failVals = append(failVals, s.Value)
		}
	}
	if len(okVals) != 1000 || len(failVals) != 250 {
		t.Fatalf("%d ok and %d failed samples, want 1000 and 250 (the error rate kept at 20%%)", len(okVals), len(failVals))
	}
	slices.Sort(okVals)
	if c := inBuckets(okVals, bounds); !slices.Equal(c, []uint64{500, 250, 125, 125, 0}) {
		t.Errorf("ok samples per bucket %v, want [500 250 125 125 0]", c)
	}
	if m := mean(okVals); math.Abs(m-1500.0/8000) > 1e-9 {
		t.Errorf("ok sample mean %v, want %v", m, 1500.0/8000)
	}
}

func TestHistogramExemplarTraceIDs(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{
		{Instrument: "h", Router: "dist", Metric: "h"},
		{Instrument: "h", Router: "max", Metric: "h", Reduce: exporter.ReduceMax},
	})
	p := testPoint(*attribute.EmptySet(), true)
	slow := []byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	fast := []byte{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	p.Exemplars = []metricdata.Exemplar[float64]{{Value: 11.5, TraceID: slow}, {Value: 1.5, TraceID: fast}, {Value: 7}}
	if err := e.Export(context.Background(), histRM(metricdata.DeltaTemporality, p)); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.take() {
		want := ""
		switch {
		case s.Value > 10:
			want = "ff0102030405060708090a0b0c0d0e0f"
		case s.Value > 1 && s.Value <= 2:
			want = "aa0102030405060708090a0b0c0d0e0f"
		}
		if s.TraceID != want {
			t.Errorf("%s sample %v has trace ID %q, want %q", s.Router, s.Value, s.TraceID, want)
		}
	}
}

func TestCumulativeHistogram(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{
		{Instrument: "h", Router: "dist", Metric: "h"},
		{Instrument: "h", Router: "count", Metric: "h", Reduce: exporter.ReduceCount},
	})
	start := epoch.Add(-time.Hour) // before the exporter: the first point is a baseline
	pt := func(start time.Time, counts []uint64, sum float64) metricdata.HistogramDataPoint[float64] {
		var n uint64
		for _, c := range counts {
			n += c
		}
		return metricdata.HistogramDataPoint[float64]{
			StartTime: start, Time: epoch, Count: n, Bounds: []float64{1, 2, 5, 10}, BucketCounts: counts, Sum: sum,
			Min: metricdata.NewExtrema(0.1), Max: metricdata.NewExtrema(100.0),
		}
	}
	export := func(p metricdata.HistogramDataPoint[float64]) (dist []float64, count []float64) {
		t.Helper()
		if err := e.Export(context.Background(), histRM(metricdata.CumulativeTemporality, p)); err != nil {
			t.Fatal(err)
		}
		for _, s := range r.take() {
			if s.Router == "dist" {
				dist = append(dist, s.Value)
			} else {
				count = append(count, s.Value)
			}
		}
		slices.Sort(dist)
		return dist, count
	}
	if d, c := export(pt(start, []uint64{5, 5, 5, 5, 5}, 200)); len(d) != 0 || len(c) != 0 {
		t.Fatalf("baseline point produced %v %v", d, c)
	}
	counts := []uint64{5, 7, 5, 8, 5}
	d, c := export(pt(start, counts, 200+1.5*2+7*3))
	if !slices.Equal(c, []float64{5}) || len(d) != 5 {
		t.Fatalf("second point: count %v, %d samples; want [5] and 5", c, len(d))
	}
	if got := inBuckets(d, []float64{1, 2, 5, 10}); !slices.Equal(got, []uint64{0, 2, 0, 3, 0}) {
		t.Errorf("increase per bucket %v, want [0 2 0 3 0]", got)
	}
	if m := mean(d); math.Abs(m-(1.5*2+7*3)/5) > 1e-9 {
		t.Errorf("mean of the increase %v, want %v", m, (1.5*2+7*3)/5)
	}
	counts[0] = 99 // the exporter must have kept its own copy of the previous counts
	if d, c := export(pt(start, []uint64{5, 7, 5, 8, 6}, 300)); len(d) != 1 || !slices.Equal(c, []float64{1}) || d[0] < 10 {
		t.Errorf("third point: %v %v, want one sample above 10", d, c)
	}
	if d, _ := export(pt(epoch, []uint64{1, 0, 0, 0, 0}, 0.5)); len(d) != 1 {
		t.Errorf("after a reset: %v, want the new point in full", d)
	}
}

func TestExponentialHistogramFromSDK(t *testing.T) {
	rec := &recorder{}
	e, err := exporter.New(offlineClient(t), []exporter.Rule{{Instrument: "lat", Router: "rtr", Metric: "lat"}}, rec.option(),
		exporter.WithAggregationSelector(func(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
			if k == sdkmetric.InstrumentKindHistogram {
				return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}
			}
			return sdkmetric.DefaultAggregationSelector(k)
		}))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(e, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	h, err := mp.Meter("test").Float64Histogram("lat")
	if err != nil {
		t.Fatal(err)
	}
	var truth []float64
	for i := range 500 {
		v := math.Exp(float64(i%97)/10) / 1000 // 0.001 .. 16
		if i%50 == 0 {
			v = -v
		}
		if i%125 == 0 {
			v = 0
		}
		truth = append(truth, v)
		h.Record(context.Background(), v)
	}
	if err := reader.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := values(rec.take())
	slices.Sort(truth)
	if len(got) != len(truth) {
		t.Fatalf("%d samples, want %d", len(got), len(truth))
	}
	// The scale the SDK chose for this range (about 14 binary orders of
	// magnitude in 160 buckets) is 3: buckets are 2^(1/8) ≈ 9% wide.
	for i := range got {
		if d := math.Abs(got[i] - truth[i]); d > math.Abs(truth[i])*0.095 {
			t.Errorf("sample %d: %v, true value %v: off by more than one bucket", i, got[i], truth[i])
		}
	}
	if got[0] != truth[0] || got[len(got)-1] != truth[len(truth)-1] {
		t.Errorf("extremes %v, %v; want %v, %v", got[0], got[len(got)-1], truth[0], truth[len(truth)-1])
	}
	if m, w := mean(got), mean(truth); math.Abs(m-w) > 1e-9*math.Abs(w) {
		t.Errorf("sample mean %v, want %v", m, w)
	}
}

func TestCumulativeExponentialHistogramAcrossRescale(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "x", Router: "rtr", Metric: "x"}})
	pt := func(scale int32, off int32, counts []uint64, sum float64) *metricdata.ResourceMetrics {
		var n uint64
		for _, c := range counts {
			n += c
		}
		return rmOf("s", metricdata.Metrics{Name: "x", Data: metricdata.ExponentialHistogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.ExponentialHistogramDataPoint[float64]{{
				StartTime: epoch, Time: epoch, Count: n, Sum: sum, Scale: scale,
				PositiveBucket: metricdata.ExponentialBucket{Offset: off, Counts: counts},
			}},
		}})
	}
	// Scale 2: bucket i is (2^(i/4), 2^((i+1)/4)]; indexes 4..7 cover (2, 4].
	if err := e.Export(context.Background(), pt(2, 4, []uint64{1, 2, 3, 4}, 30)); err != nil {
		t.Fatal(err)
	}
	if n := len(r.take()); n != 10 {
		t.Fatalf("first point (started with the exporter): %d samples, want 10", n)
	}
	// Scale 1: index 2 is (2, 2^1.5], index 3 (2^1.5, 4], index 4 (4, 2^2.5].
	if err := e.Export(context.Background(), pt(1, 2, []uint64{1 + 2 + 5, 3 + 4, 6}, 30+5*2.5+6*5)); err != nil {
		t.Fatal(err)
	}
	vals := values(r.take())
	if c := inBuckets(vals, []float64{2, math.Pow(2, 1.5), 4, math.Pow(2, 2.5)}); !slices.Equal(c, []uint64{0, 5, 0, 6, 0}) {
		t.Errorf("increase per bucket %v, want [0 5 0 6 0] (%v)", c, vals)
	}
}

func TestSummary(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{
		{Instrument: "s", Router: "dist", Metric: "s"},
		{Instrument: "s", Router: "p90", Metric: "s", Reduce: exporter.ReducePercentile, Percentile: 90},
		{Instrument: "s", Router: "count", Metric: "s", Reduce: exporter.ReduceCount},
	})
	qs := []metricdata.QuantileValue{{Quantile: 0, Value: 1}, {Quantile: 0.5, Value: 2}, {Quantile: 1, Value: 4}}
	pt := func(count uint64, sum float64) *metricdata.ResourceMetrics {
		return rmOf("x", metricdata.Metrics{Name: "s", Data: metricdata.Summary{DataPoints: []metricdata.SummaryDataPoint{{
			StartTime: epoch, Time: epoch, Count: count, Sum: sum, QuantileValues: qs,
		}}}})
	}
	if err := e.Export(context.Background(), pt(4, 10)); err != nil {
		t.Fatal(err)
	}
	r.take()
	if err := e.Export(context.Background(), pt(8, 20)); err != nil {
		t.Fatal(err)
	}
	by := map[string][]float64{}
	for _, s := range r.take() {
		by[s.Router] = append(by[s.Router], s.Value)
	}
	if !slices.Equal(by["count"], []float64{4}) {
		t.Errorf("count %v, want [4] (the increase)", by["count"])
	}
	if got := by["p90"]; len(got) != 1 || math.Abs(got[0]-3.6) > 1e-9 {
		t.Errorf("p90 %v, want [3.6]", got)
	}
	if got := by["dist"]; !slices.Equal(got, []float64{1.25, 1.75, 2.5, 3.5}) {
		t.Errorf("distribution %v, want [1.25 1.75 2.5 3.5]", got)
	}
}

func TestExemplarTraceIDsFromSDK(t *testing.T) {
	rec := &recorder{}
	e, err := exporter.New(offlineClient(t), []exporter.Rule{
		{Instrument: "calls", Router: "rtr", Metric: "calls"},
		{Instrument: "latency", Router: "rtr", Metric: "latency"},
	}, rec.option())
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(e, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	meter := mp.Meter("test")
	calls, _ := meter.Int64Counter("calls")
	latency, _ := meter.Float64Histogram("latency", metric.WithExplicitBucketBoundaries(0.1, 1))
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
	}))
	calls.Add(ctx, 1)
	latency.Record(ctx, 0.5)
	latency.Record(context.Background(), 0.05) // no span: no exemplar
	if err := reader.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if len(got) != 3 {
		t.Fatalf("%d samples, want 3: %+v", len(got), got)
	}
	for _, s := range got {
		want := tid.String()
		if s.Metric == "latency" && s.Value <= 0.1 {
			want = ""
		}
		if s.TraceID != want {
			t.Errorf("%s sample %v: trace ID %q, want %q", s.Metric, s.Value, s.TraceID, want)
		}
	}
}
