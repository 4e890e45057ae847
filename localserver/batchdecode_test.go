package localserver

import (
	"encoding/json"
	"fmt"
	"testing"
)

func benchDoc(tb testing.TB) []byte {
	samples := make([]Sample, 500)
	for j := range samples {
		samples[j] = Sample{RouterID: fmt.Sprint("rtr_", j%8), Metric: []string{"latency", "errors"}[j%2],
			TsMs: 1764201600000 + int64(j), Value: float64(j%300) + 0.25, OK: j%7 != 0,
			Tags: map[string]string{"env": "bench", "host": fmt.Sprint("h", j%4)}, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
	}
	b, err := json.Marshal(map[string]any{"samples": samples})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkDecodeBatch decodes one document of 500 samples.
func BenchmarkDecodeBatch(b *testing.B) {
	doc := benchDoc(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := parseBatch(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBatchStdlib is the same decoding with encoding/json, for
// comparison.
func BenchmarkDecodeBatchStdlib(b *testing.B) {
	doc := benchDoc(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		var v struct {
			Samples []Sample `json:"samples"`
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			b.Fatal(err)
		}
	}
}
