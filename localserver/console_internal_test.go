package localserver

import (
	"testing"
	"time"
)

// consoleBenchServer is a project with the default 100,000 kept samples,
// all within the last 20 s (5,000 a second), over two routers and three
// breakers, as a busy demo has.
func consoleBenchServer(b *testing.B) (*Server, *project) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := New(Config{Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	pid := s.Credentials().ProjectID
	err = s.Seed(pid, Seed{
		Routers: []SeedRouter{{ID: "rtr_a", Name: "a"}, {ID: "rtr_b", Name: "b"}},
		Breakers: []SeedBreaker{
			{Name: "p95", Metric: "req", Kind: "p95", Op: "gt", Threshold: 300, WindowMs: 30_000, RouterIDs: []string{"rtr_a"}},
			{Name: "errors", Metric: "req", Kind: "error_rate", Op: "gt", Threshold: 0.5, WindowMs: 30_000, RouterIDs: []string{"rtr_a"}},
			{Name: "b-errors", Metric: "req", Kind: "error_rate", Op: "gt", Threshold: 0.5, WindowMs: 30_000, RouterIDs: []string{"rtr_b"}},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	p := s.project(pid)
	samples := make([]Sample, defaultSampleLimit)
	for i := range samples {
		r := "rtr_a"
		if i%3 == 0 {
			r = "rtr_b"
		}
		samples[i] = Sample{RouterID: r, Metric: "req", TsMs: now.UnixMilli() - 20_000 + int64(i)/5, Value: float64(i % 500), OK: i%7 != 0}
	}
	s.route(p, samples, now.UnixMilli())
	return s, p
}

// BenchmarkConsoleMetrics is the work of one console stream per second,
// most of it under the project's lock.
func BenchmarkConsoleMetrics(b *testing.B) {
	s, p := consoleBenchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		s.consoleMetrics(p)
	}
}

// BenchmarkConsoleSnapshot is the work of a console connecting, with each
// breaker's history recomputed from the kept samples.
func BenchmarkConsoleSnapshot(b *testing.B) {
	s, p := consoleBenchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		s.consoleSnapshot(p)
	}
}
