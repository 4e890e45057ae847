package tripswitch

import (
	"runtime"
	"strconv"
	"testing"
)

// snapshotEvents returns the payloads of a state snapshot of n breakers.
func snapshotEvents(n int) [][]byte {
	evs := make([][]byte, n)
	for i := range evs {
		evs[i] = []byte(`{"breaker":"breaker-` + strconv.Itoa(i) + `","state":"closed","allow_rate":1}`)
	}
	return evs
}

// BenchmarkSnapshotApply applies a full state snapshot of 20,000 and
// 40,000 breakers to a fresh client, as the first connection of a large
// project does, and reports the bytes allocated per snapshot.
func BenchmarkSnapshotApply(b *testing.B) {
	for _, n := range []int{20_000, 40_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			evs := snapshotEvents(n)
			cfg := defaultConfig()
			cfg.projectKey = "eb_pk_bench"
			cfg.baseURL = "http://127.0.0.1:1"
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for b.Loop() {
				c, err := build("proj_bench", cfg)
				if err != nil {
					b.Fatal(err)
				}
				c.callbacks = newDispatcher(c)
				for _, ev := range evs {
					if !c.handleEvent(ev) {
						b.Fatal("event refused")
					}
				}
				if got := c.states.known(); got != n {
					b.Fatalf("%d breakers cached, want %d", got, n)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB/snapshot")
		})
	}
}
