package exporter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
)

// benchExporter returns an exporter that queues into a real client whose
// buffer is never sent during the benchmark.
func benchExporter(b *testing.B, rules []exporter.Rule) *exporter.Exporter {
	b.Helper()
	e, err := exporter.New(offlineClient(b), rules)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchAttrs(n int) []attribute.Set {
	sets := make([]attribute.Set, n)
	for i := range sets {
		sets[i] = attribute.NewSet(
			attribute.String("http.request.method", "GET"),
			attribute.Int("http.response.status_code", 200+i%5),
			attribute.String("server.address", fmt.Sprintf("host-%d", i)),
		)
	}
	return sets
}

func runExport(b *testing.B, e *exporter.Exporter, rm *metricdata.ResourceMetrics, points int) {
	b.Helper()
	ctx := context.Background()
	if err := e.Export(ctx, rm); err != nil { // first sight of every stream
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		if err := e.Export(ctx, rm); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := cpuTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(points), "ns/point")
}

func BenchmarkExportSums1000(b *testing.B) {
	e := benchExporter(b, []exporter.Rule{{Instrument: "requests", Router: "rtr", Metric: "requests", OK: exporter.OKBelowHTTPStatus(500),
		TagKeys: []attribute.Key{"http.request.method"}}})
	pts := make([]metricdata.DataPoint[float64], 1000)
	for i, set := range benchAttrs(1000) {
		pts[i] = metricdata.DataPoint[float64]{Attributes: set, Time: time.Now(), Value: float64(i)}
	}
	rm := rmOf("app", metricdata.Metrics{Name: "requests", Data: metricdata.Sum[float64]{
		DataPoints: pts, Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
	}})
	runExport(b, e, rm, 1000)
}

func BenchmarkExportGauges1000(b *testing.B) {
	e := benchExporter(b, []exporter.Rule{{Instrument: "queue.depth", Router: "rtr", Metric: "queue.depth"}})
	pts := make([]metricdata.DataPoint[int64], 1000)
	for i, set := range benchAttrs(1000) {
		pts[i] = metricdata.DataPoint[int64]{Attributes: set, Time: time.Now(), Value: int64(i)}
	}
	rm := rmOf("app", metricdata.Metrics{Name: "queue.depth", Data: metricdata.Gauge[int64]{DataPoints: pts}})
	runExport(b, e, rm, 1000)
}

// BenchmarkHistogramExpand exports one 20-bucket histogram point of 1,000
// measurements as 1,000 samples.
func BenchmarkHistogramExpand(b *testing.B) { benchHistogramExpand(b, "") }

// BenchmarkHistogramExpandSeconds is HistogramExpand for an instrument in
// seconds, whose samples are converted to milliseconds.
func BenchmarkHistogramExpandSeconds(b *testing.B) { benchHistogramExpand(b, "s") }

func benchHistogramExpand(b *testing.B, unit string) {
	e := benchExporter(b, []exporter.Rule{{Instrument: "latency", Router: "rtr", Metric: "latency"}})
	bounds := make([]float64, 19)
	counts := make([]uint64, 20)
	for i := range bounds {
		bounds[i] = float64(i+1) * 0.01
	}
	for i := range counts {
		counts[i] = 50
	}
	rm := rmOf("app", metricdata.Metrics{Name: "latency", Unit: unit, Data: metricdata.Histogram[float64]{
		Temporality: metricdata.DeltaTemporality,
		DataPoints: []metricdata.HistogramDataPoint[float64]{{
			Time: time.Now(), Count: 1000, Bounds: bounds, BucketCounts: counts, Sum: 100,
			Min: metricdata.NewExtrema(0.001), Max: metricdata.NewExtrema(0.25),
		}},
	}})
	runExport(b, e, rm, 1)
}

// BenchmarkExportUnselected exports 100 instruments no rule selects.
func BenchmarkExportUnselected(b *testing.B) {
	e := benchExporter(b, []exporter.Rule{{Instrument: "selected", Router: "rtr", Metric: "selected"}})
	ms := make([]metricdata.Metrics, 100)
	for i := range ms {
		ms[i] = metricdata.Metrics{Name: fmt.Sprintf("other.%d", i), Data: metricdata.Sum[int64]{
			DataPoints: []metricdata.DataPoint[int64]{{Time: time.Now(), Value: 1}, {Time: time.Now(), Value: 2}},
		}}
	}
	runExport(b, e, rmOf("app", ms...), 200)
}
