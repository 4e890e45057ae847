package exporter_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// rec is one recorded sample.
type rec struct {
	Router, Metric string
	Tags           map[string]string
	Time           time.Time
	Value          float64
	OK             bool
	TraceID        string
}

// recorder records what the exporter reports instead of queueing it in a
// client.
type recorder struct {
	mu      sync.Mutex
	samples []rec
}

type recSink struct {
	r              *recorder
	router, metric string
	tags           map[string]string
}

func (s *recSink) Report(_ context.Context, t time.Time, v float64, ok bool, traceID string) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.samples = append(s.r.samples, rec{s.router, s.metric, s.tags, t, v, ok, traceID})
	return nil
}

func (r *recorder) option() exporter.Option {
	return exporter.WithSinks(func(router, metric string, tags map[string]string) (exporter.Sink, error) {
		return &recSink{r: r, router: router, metric: metric, tags: maps.Clone(tags)}, nil
	})
}

// take returns and forgets the recorded samples.
func (r *recorder) take() []rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.samples
	r.samples = nil
	return s
}

func values(rs []rec) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = r.Value
	}
	slices.Sort(v)
	return v
}

// offlineClient returns a client that has no server; with a recorder it
// only serves ForceFlush and Shutdown, which have nothing to deliver.
func offlineClient(t testing.TB) *tripswitch.Client {
	t.Helper()
	c, err := tripswitch.NewClient(context.Background(), "proj_unit",
		tripswitch.WithBaseURL("http://127.0.0.1:9"),
		tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithBatchSize(1_000_000),
		tripswitch.WithBufferCapacity(100_000),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// epoch is the fixed clock of the unit tests.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// newRecorded returns an exporter over rules whose samples go to a
// recorder, with its clock at epoch.
func newRecorded(t testing.TB, rules []exporter.Rule, opts ...exporter.Option) (*exporter.Exporter, *recorder) {
	t.Helper()
	r := &recorder{}
	opts = append([]exporter.Option{r.option(), exporter.WithClock(func() time.Time { return epoch })}, opts...)
	e, err := exporter.New(offlineClient(t), rules, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e, r
}
