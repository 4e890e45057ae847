package exporter_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func rmOf(scope string, ms ...metricdata.Metrics) *metricdata.ResourceMetrics {
	return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: scope}, Metrics: ms,
	}}}
}

func deltaSum(name string, pts ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Data: metricdata.Sum[int64]{
		DataPoints: pts, Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
	}}
}

func TestNewRejectsBadInput(t *testing.T) {
	c := offlineClient(t)
	ok := exporter.Rule{Instrument: "x", Router: "rtr_1", Metric: "x"}
	tests := []struct {
		name  string
		rules []exporter.Rule
		index int
		field string
	}{
		{"no instrument", []exporter.Rule{ok, {Router: "rtr_1", Metric: "latency"}}, 1, "Instrument"},
		{"name and prefix", []exporter.Rule{{Instrument: "a", InstrumentPrefix: "a", Router: "r", Metric: "a"}}, 0, "InstrumentPrefix"},
		{"no router", []exporter.Rule{ok, ok, {Instrument: "x"}}, 2, "Router"},
		{"blank router", []exporter.Rule{{Instrument: "x", Router: "  ", Metric: "x"}}, 0, "Router"},
		{"unknown reduce", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", Reduce: 42}}, 0, "Reduce"},
		{"percentile missing", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", Reduce: exporter.ReducePercentile}}, 0, "Percentile"},
		{"percentile too big", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", Reduce: exporter.ReducePercentile, Percentile: 101}}, 0, "Percentile"},
		{"percentile without reduce", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", Percentile: 95}}, 0, "Percentile"},
		{"invalid attribute", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", Attributes: []attribute.KeyValue{{Key: "", Value: attribute.IntValue(1)}}}}, 0, "Attributes"},
		{"duplicate attribute", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", Attributes: []attribute.KeyValue{attribute.Int("k", 1), attribute.Int("k", 2)}}}, 0, "Attributes"},
		{"empty tag key", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", TagKeys: []attribute.Key{""}}}, 0, "TagKeys"},
		{"duplicate tag key", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", TagKeys: []attribute.Key{"a", "a"}}}, 0, "TagKeys"},
		{"too many tag keys", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", TagKeys: []attribute.Key{"a", "b", "c", "d", "e"}}}, 0, "TagKeys"},
		{"no metric", []exporter.Rule{ok, {Instrument: "x", Router: "r"}}, 1, "Metric"},
		{"blank metric", []exporter.Rule{{Instrument: "x", Router: "r", Metric: " "}}, 0, "Metric"},
		{"unknown unit", []exporter.Rule{{Instrument: "x", Router: "r", Metric: "x", Unit: "sec"}}, 0, "Unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := exporter.New(c, tt.rules)
			var re *exporter.RuleError
			if !errors.As(err, &re) || !errors.Is(err, exporter.ErrInvalidRule) {
				t.Fatalf("err = %v, want a *RuleError", err)
			}
			if re.Index != tt.index || re.Field != tt.field {
				t.Fatalf("error names rules[%d].%s, want rules[%d].%s (%v)", re.Index, re.Field, tt.index, tt.field, err)
			}
			if !strings.Contains(err.Error(), re.Field) {
				t.Fatalf("message %q does not name the field", err)
			}
		})
	}
	if _, err := exporter.New(c, nil); !errors.Is(err, exporter.ErrInvalidRule) {
		t.Errorf("no rules: err = %v, want ErrInvalidRule", err)
	}
	for name, opt := range map[string]exporter.Option{
		"WithMaxSamplesPerPoint":  exporter.WithMaxSamplesPerPoint(0),
		"WithAggregationSelector": exporter.WithAggregationSelector(nil),
	} {
		_, err := exporter.New(c, []exporter.Rule{ok}, opt)
		if !errors.Is(err, exporter.ErrInvalidOption) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want ErrInvalidOption naming the option", name, err)
		}
	}
}

func TestRoutesSelectInstruments(t *testing.T) {
	rules := []exporter.Rule{
		{Instrument: "http.client.request.duration", Router: "rtr_exact", Metric: "http.client.request.duration", Reduce: exporter.ReduceCount},
		{InstrumentPrefix: "queue.", Router: "rtr_prefix", Metric: "queues"},
		{Instrument: "jobs", Scope: "worker", Router: "rtr_scope", Metric: "jobs"},
		{Instrument: "jobs", Attributes: []attribute.KeyValue{attribute.String("kind", "email")}, Router: "rtr_attr", Metric: "jobs"},
	}
	e, r := newRecorded(t, rules)
	pt := func(v int64, kv ...attribute.KeyValue) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(kv...), Time: epoch, Value: v}
	}
	rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{
		{Scope: instrumentation.Scope{Name: "worker"}, Metrics: []metricdata.Metrics{
			deltaSum("jobs", pt(1, attribute.String("kind", "email")), pt(2, attribute.String("kind", "sms"))),
			deltaSum("queue.depth", pt(3)),
			deltaSum("queue", pt(4)), // no "." after the prefix
			deltaSum("other", pt(5)),
		}},
		{Scope: instrumentation.Scope{Name: "api"}, Metrics: []metricdata.Metrics{
			deltaSum("jobs", pt(6, attribute.String("kind", "email"))),
			deltaSum("queue.lag", pt(7)),
		}},
	}}
	if err := e.Export(context.Background(), rm); err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	for _, s := range r.take() {
		got[s.Router+"/"+s.Metric] = append(got[s.Router+"/"+s.Metric], s.Value)
	}
	want := map[string][]float64{
		"rtr_scope/jobs":    {1, 2},
		"rtr_attr/jobs":     {1, 6},
		"rtr_prefix/queues": {3, 7},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, w := range want {
		g := got[k]
		slices.Sort(g)
		if !slices.Equal(g, w) {
			t.Errorf("%s: got %v, want %v", k, g, w)
		}
	}
}

func TestSumsAndGauges(t *testing.T) {
	status := attribute.Key("http.response.status_code")
	rules := []exporter.Rule{
		{Instrument: "requests", Router: "rtr_1", Metric: "requests", OK: exporter.OKBelowHTTPStatus(500), TagKeys: []attribute.Key{"region", status}},
		{Instrument: "temperature", Router: "rtr_1", Metric: "temp"},
	}
	e, r := newRecorded(t, rules)
	trace1 := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	trace2 := []byte{0xa, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xb}
	at := epoch.Add(-time.Second)
	rm := rmOf("app",
		metricdata.Metrics{Name: "requests", Data: metricdata.Sum[float64]{
			Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[float64]{
				{Attributes: attribute.NewSet(status.Int(200), attribute.String("region", "eu"), attribute.String("user", "bob")), Time: at, Value: 40,
					Exemplars: []metricdata.Exemplar[float64]{{Time: at.Add(-2 * time.Second), TraceID: trace2}, {Time: at.Add(-time.Second), TraceID: trace1}, {Time: at}}},
				{Attributes: attribute.NewSet(status.Int(503)), Time: at, Value: 2},
			},
		}},
		metricdata.Metrics{Name: "temperature", Data: metricdata.Gauge[int64]{
			DataPoints: []metricdata.DataPoint[int64]{{Value: -7}},
		}},
	)
	if err := e.Export(context.Background(), rm); err != nil {
		t.Fatal(err)
	}
	got := r.take()
	want := []rec{
		{"rtr_1", "requests", map[string]string{"region": "eu", "http.response.status_code": "200"}, at, 40, true, "0102030405060708090a0b0c0d0e0f10"},
		{"rtr_1", "requests", map[string]string{"http.response.status_code": "503"}, at, 2, false, ""},
		{"rtr_1", "temp", nil, epoch, -7, true, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d samples %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Router != w.Router || g.Metric != w.Metric || !g.Time.Equal(w.Time) || g.Value != w.Value || g.OK != w.OK || g.TraceID != w.TraceID || !mapsEqual(g.Tags, w.Tags) {
			t.Errorf("sample %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestCumulativeSumsAreDifferenced(t *testing.T) {
	rules := []exporter.Rule{
		{Instrument: "c", Router: "rtr_inc", Metric: "c"},
		{Instrument: "c", Router: "rtr_total", Metric: "c", Total: true},
	}
	e, r := newRecorded(t, rules)
	before, after := epoch.Add(-time.Hour), epoch.Add(time.Minute)
	a := attribute.NewSet(attribute.String("s", "a")) // started before the exporter
	b := attribute.NewSet(attribute.String("s", "b")) // started after it
	export := func(monotonic bool, pts ...metricdata.DataPoint[int64]) map[string][]float64 {
		t.Helper()
		err := e.Export(context.Background(), rmOf("s", metricdata.Metrics{Name: "c", Data: metricdata.Sum[int64]{
			DataPoints: pts, Temporality: metricdata.CumulativeTemporality, IsMonotonic: monotonic,
		}}))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float64{}
		for _, s := range r.take() {
			out[s.Router] = append(out[s.Router], s.Value)
		}
		return out
	}
	check := func(step string, got map[string][]float64, inc, total []float64) {
		t.Helper()
		if !slices.Equal(got["rtr_inc"], inc) || !slices.Equal(got["rtr_total"], total) {
			t.Errorf("%s: increase %v total %v, want %v and %v", step, got["rtr_inc"], got["rtr_total"], inc, total)
		}
	}
	p := func(set attribute.Set, start time.Time, v int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: set, StartTime: start, Time: epoch, Value: v}
	}
	check("first points", export(true, p(a, before, 100), p(b, after, 5)), []float64{5}, []float64{100, 5})
	check("growth", export(true, p(a, before, 130), p(b, after, 9)), []float64{30, 4}, []float64{130, 9})
	check("no change", export(true, p(a, before, 130)), []float64{0}, []float64{130})
	check("reset with new start", export(true, p(a, epoch, 7)), []float64{7}, []float64{7})
	check("reset without new start", export(true, p(a, epoch, 3)), []float64{3}, []float64{3})
	check("up-down counter falls", export(false, p(a, epoch, 1)), []float64{-2}, []float64{1})
}

func TestDeltaSumTotal(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c", Total: true}})
	for _, v := range []int64{3, 4, -2} {
		if err := e.Export(context.Background(), rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: v}))); err != nil {
			t.Fatal(err)
		}
	}
	if got := values(r.take()); !slices.Equal(got, []float64{3, 5, 7}) {
		t.Errorf("running totals %v, want [3 5 7]", got)
	}
}

func TestNonFiniteValuesAreSkipped(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "g", Router: "rtr", Metric: "g"}})
	rm := rmOf("s", metricdata.Metrics{Name: "g", Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{
		{Attributes: attribute.NewSet(attribute.Int("i", 1)), Value: math.NaN()},
		{Attributes: attribute.NewSet(attribute.Int("i", 2)), Value: math.Inf(1)},
		{Attributes: attribute.NewSet(attribute.Int("i", 3)), Value: 2.5},
	}}})
	if err := e.Export(context.Background(), rm); err != nil {
		t.Fatal(err)
	}
	if got := values(r.take()); !slices.Equal(got, []float64{2.5}) {
		t.Errorf("got %v, want [2.5]", got)
	}
}

func TestExportHonoursContext(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.Export(ctx, rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: 1})))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(r.take()); n != 0 {
		t.Errorf("%d samples reported under a cancelled context", n)
	}
}

func TestShutdown(t *testing.T) {
	c := offlineClient(t)
	r := &recorder{}
	e, err := exporter.New(c, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c"}}, r.option())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush before Shutdown: %v", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	calls := map[string]error{
		"Export":     e.Export(ctx, rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: 1}))),
		"ForceFlush": e.ForceFlush(ctx),
		"Shutdown":   e.Shutdown(ctx),
	}
	for name, err := range calls {
		if !errors.Is(err, exporter.ErrShutdown) || !errors.Is(err, sdkmetric.ErrExporterShutdown) {
			t.Errorf("%s after Shutdown: err = %v, want ErrShutdown", name, err)
		}
	}
	if n := len(r.take()); n != 0 {
		t.Errorf("%d samples reported after Shutdown", n)
	}
	// The client is the caller's and still works.
	if err := c.Report(ctx, tripswitch.Sample{RouterID: "rtr", Metric: "m", Value: 1, OK: true}); err != nil {
		t.Errorf("client unusable after exporter Shutdown: %v", err)
	}
}

func TestExportAfterClientClose(t *testing.T) {
	c := offlineClient(t)
	e, err := exporter.New(c, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = c.Close(ctx)
	err = e.Export(context.Background(), rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: 1})))
	if !errors.Is(err, tripswitch.ErrClosed) {
		t.Errorf("err = %v, want one wrapping tripswitch.ErrClosed", err)
	}
}

func TestTemporalityAndAggregation(t *testing.T) {
	c := offlineClient(t)
	e, err := exporter.New(c, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c"}},
		exporter.WithAggregationSelector(func(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
			if k == sdkmetric.InstrumentKindHistogram {
				return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}
			}
			return sdkmetric.DefaultAggregationSelector(k)
		}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[sdkmetric.InstrumentKind]metricdata.Temporality{
		sdkmetric.InstrumentKindCounter:                 metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindObservableCounter:       metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindHistogram:               metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindGauge:                   metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindObservableGauge:         metricdata.DeltaTemporality,
		sdkmetric.InstrumentKindUpDownCounter:           metricdata.CumulativeTemporality,
		sdkmetric.InstrumentKindObservableUpDownCounter: metricdata.CumulativeTemporality,
	}
	for k, w := range want {
		if got := e.Temporality(k); got != w {
			t.Errorf("Temporality(%v) = %v, want %v", k, got, w)
		}
	}
	if _, ok := e.Aggregation(sdkmetric.InstrumentKindHistogram).(sdkmetric.AggregationBase2ExponentialHistogram); !ok {
		t.Error("WithAggregationSelector not used")
	}
	if _, ok := e.Aggregation(sdkmetric.InstrumentKindCounter).(sdkmetric.AggregationSum); !ok {
		t.Error("counter aggregation is not a sum")
	}
}

func TestOKBelowHTTPStatus(t *testing.T) {
	tests := []struct {
		code  int
		attrs []attribute.KeyValue
		want  bool
	}{
		{500, []attribute.KeyValue{attribute.Int("http.response.status_code", 200)}, true},
		{500, []attribute.KeyValue{attribute.Int("http.response.status_code", 404), attribute.String("error.type", "404")}, true},
		{500, []attribute.KeyValue{attribute.Int("http.response.status_code", 500), attribute.String("error.type", "500")}, false},
		{500, []attribute.KeyValue{attribute.Int("http.response.status_code", 503)}, false},
		{500, []attribute.KeyValue{attribute.String("http.response.status_code", "502")}, false},
		{500, []attribute.KeyValue{attribute.Float64("http.response.status_code", 502)}, false},
		{500, []attribute.KeyValue{attribute.Int("http.status_code", 503)}, false},
		{500, []attribute.KeyValue{attribute.Int("http.status_code", 200)}, true},
		{500, []attribute.KeyValue{attribute.String("error.type", "*net.OpError")}, false},
		{500, []attribute.KeyValue{attribute.String("http.request.method", "GET")}, true},
		{500, nil, true},
		{400, []attribute.KeyValue{attribute.Int("http.response.status_code", 404)}, false},
		{400, []attribute.KeyValue{attribute.Int("http.response.status_code", 399)}, true},
	}
	for _, tt := range tests {
		if got := exporter.OKBelowHTTPStatus(tt.code)(attribute.NewSet(tt.attrs...)); got != tt.want {
			t.Errorf("OKBelowHTTPStatus(%d)(%v) = %v, want %v", tt.code, tt.attrs, got, tt.want)
		}
	}
}

func TestOKEvaluatorPanicCountsAsOK(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c", OK: func(attribute.Set) bool { panic("boom") }}})
	if err := e.Export(context.Background(), rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: 1}))); err != nil {
		t.Fatal(err)
	}
	got := r.take()
	if len(got) != 1 || !got[0].OK {
		t.Errorf("got %+v, want one ok sample", got)
	}
}

func TestRunningTotalSurvivesIdleExports(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c", Total: true}})
	ctx := context.Background()
	if err := e.Export(ctx, rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: 3}))); err != nil {
		t.Fatal(err)
	}
	for range 40 { // no measurement for many intervals
		if err := e.Export(ctx, rmOf("s")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Export(ctx, rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: 4}))); err != nil {
		t.Fatal(err)
	}
	if got := values(r.take()); !slices.Equal(got, []float64{3, 7}) {
		t.Errorf("running totals %v, want [3 7]", got)
	}
}

func TestManyAttributeSets(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c", TagKeys: []attribute.Key{"i"}}})
	const n = 9000 // more than the exporter keeps per instrument
	pts := make([]metricdata.DataPoint[int64], n)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.Int("i", i)), Value: 1}
	}
	for round := range 2 {
		if err := e.Export(context.Background(), rmOf("s", deltaSum("c", pts...))); err != nil {
			t.Fatal(err)
		}
		got := r.take()
		if len(got) != n {
			t.Fatalf("round %d: %d samples, want %d", round, len(got), n)
		}
		if got[n-1].Tags["i"] != "8999" {
			t.Errorf("round %d: last sample tags %v, want i=8999", round, got[n-1].Tags)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	e, r := newRecorded(t, []exporter.Rule{{Instrument: "c", Router: "rtr", Metric: "c"}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				switch g {
				case 0, 1:
					_ = e.Export(ctx, rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: int64(i)})))
				case 2:
					_ = e.ForceFlush(ctx)
				case 3:
					_ = e.Temporality(sdkmetric.InstrumentKindCounter)
					_ = e.Aggregation(sdkmetric.InstrumentKindHistogram)
				}
			}
		})
	}
	wg.Wait()
	if got := len(r.take()); got != 100 {
		t.Errorf("%d samples from 100 concurrent exports of one point", got)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctx, rmOf("s", deltaSum("c", metricdata.DataPoint[int64]{Value: 1}))); !errors.Is(err, exporter.ErrShutdown) {
		t.Errorf("Export after Shutdown: %v", err)
	}
}

func TestUpDownCounterFromSDK(t *testing.T) {
	rec := &recorder{}
	e, err := exporter.New(offlineClient(t), []exporter.Rule{
		{Instrument: "queue.depth", Router: "level", Metric: "queue.depth", Total: true},
		{Instrument: "queue.depth", Router: "change", Metric: "queue.depth"},
	}, rec.option())
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(e, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	depth, err := mp.Meter("test").Int64UpDownCounter("queue.depth")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, step := range []struct{ add, level, change int64 }{{5, 5, 5}, {-2, 3, -2}, {0, 3, 0}, {10, 13, 10}} {
		depth.Add(ctx, step.add)
		if err := reader.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, s := range rec.take() {
			got[s.Router] = s.Value
		}
		if len(got) != 2 || got["level"] != float64(step.level) || got["change"] != float64(step.change) {
			t.Errorf("after adding %d: %v, want level %d and change %d", step.add, got, step.level, step.change)
		}
	}
}
