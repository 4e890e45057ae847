package tripswitch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// syncBuffer is a bytes.Buffer safe for a logger used from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprint("k", i)] = "v"
	}
	return m
}

// TestReportRefusesSamplesBeyondLimits: Report and NewReporter refuse
// what the server would refuse, naming the field; nothing is queued.
func TestReportRefusesSamplesBeyondLimits(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	ok := tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true}
	tests := []struct {
		name   string
		sample func(s *tripswitch.Sample)
		want   string
	}{
		{"router ID of 129", func(s *tripswitch.Sample) { s.RouterID = long(129) }, "router ID has 129 characters"},
		{"metric of 129", func(s *tripswitch.Sample) { s.Metric = long(129) }, "metric has 129 characters"},
		{"trace ID of 129", func(s *tripswitch.Sample) { s.TraceID = long(129) }, "trace ID has 129 characters"},
		{"tag value of 300", func(s *tripswitch.Sample) { s.Tags = map[string]string{"k": long(300)} }, "value of 300 characters"},
		{"33 tags", func(s *tripswitch.Sample) { s.Tags = manyTags(33) }, "33 tags; the limit is 32"},
		{"empty tag key", func(s *tripswitch.Sample) { s.Tags = map[string]string{"": "v"} }, "tag key is empty"},
		{"an hour ahead", func(s *tripswitch.Sample) { s.Time = time.Now().Add(time.Hour) }, "ahead of the client's clock"},
		{"far future", func(s *tripswitch.Sample) { s.Time = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }, "ahead of the client's clock"},
		{"a week ago", func(s *tripswitch.Sample) { s.Time = time.Now().Add(-7 * 24 * time.Hour) }, "behind the client's clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.sample(&s)
			err := c.Report(context.Background(), s)
			if !errors.Is(err, tripswitch.ErrInvalidSample) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Report = %v, want ErrInvalidSample saying %q", err, tt.want)
			}
		})
	}
	// At the limits exactly, and a minute ahead (clock skew), is fine.
	edge := tripswitch.Sample{RouterID: long(128), Metric: long(128), TraceID: long(128), Value: 1,
		Tags: map[string]string{long(128): long(256)}, Time: time.Now().Add(time.Minute)}
	if err := c.Report(context.Background(), edge); err != nil {
		t.Fatalf("sample at the limits: %v", err)
	}
	if _, err := c.NewReporter("r", long(129), nil); !errors.Is(err, tripswitch.ErrInvalidSample) {
		t.Fatalf("NewReporter with a long metric = %v", err)
	}
	if _, err := c.NewReporter("r", "m", manyTags(33)); !errors.Is(err, tripswitch.ErrInvalidSample) {
		t.Fatalf("NewReporter with 33 tags = %v", err)
	}
	rep, err := c.NewReporter("r", "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Report(context.Background(), time.Now().Add(time.Hour), 1, true, ""); !errors.Is(err, tripswitch.ErrInvalidSample) {
		t.Fatalf("Reporter.Report an hour ahead = %v", err)
	}
	if err := rep.ReportValues(context.Background(), time.Time{}, []float64{1}, true, long(129)); !errors.Is(err, tripswitch.ErrInvalidSample) {
		t.Fatalf("ReportValues with a long trace ID = %v", err)
	}
	if s := c.Stats(); s.Produced != 1 {
		t.Fatalf("stats %+v: refused samples were counted", s)
	}
}

// TestExecuteSamplesBeyondLimitsAreCountedNotSent: samples of calls that
// break the limits are dropped when produced (counted, logged once per
// field), so the valid samples of the same batch are delivered and Close
// succeeds.
func TestExecuteSamplesBeyondLimitsAreCountedNotSent(t *testing.T) {
	f := newFakeServer(t)
	var logs syncBuffer
	c := newTestClient(t, f, tripswitch.WithFlushInterval(time.Hour), tripswitch.WithBatchSize(500),
		tripswitch.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	task := func() (int, error) { return 1, nil }
	run := func(opts ...tripswitch.CallOption) {
		t.Helper()
		opts = append(opts, tripswitch.WithMetric("latency", tripswitch.Latency))
		if _, err := tripswitch.Execute(c, context.Background(), task, opts...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 497 {
		run(tripswitch.WithRouter("r"), tripswitch.WithTag("i", fmt.Sprint(i)))
	}
	for range 10 { // the same problem again and again: logged once
		run(tripswitch.WithRouter("r"), tripswitch.WithTag("k", strings.Repeat("x", 300)))
	}
	run(tripswitch.WithRouter(strings.Repeat("r", 129)))
	run(tripswitch.WithRouter("r"), tripswitch.WithTags(manyTags(33)))
	run(tripswitch.WithRouter("r"), tripswitch.WithTraceID(strings.Repeat("a", 129)))
	s := c.Stats()
	checkIdentity(t, s)
	if s.Produced != 510 || s.Invalid != 13 || s.Dropped != 13 || s.Buffered != 497 {
		t.Fatalf("stats %+v, want 13 invalid samples dropped and 497 buffered", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := len(f.samples()); got != 497 {
		t.Fatalf("server got %d samples, want the 497 valid ones", got)
	}
	out := logs.String()
	for _, field := range []string{"field=router_id", "field=trace_id"} {
		if strings.Count(out, field) != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", field, strings.Count(out, field), out)
		}
	}
	if n := strings.Count(out, "field=tags"); n != 1 { // the tag value and the tag count: one field
		t.Errorf("field=tags logged %d times, want once:\n%s", n, out)
	}
}

func TestReportValidation(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f)
	for _, s := range []tripswitch.Sample{
		{Metric: "m", Value: 1},
		{RouterID: "r", Value: 1},
		{RouterID: "r", Metric: "m", Value: nan()},
	} {
		if err := c.Report(context.Background(), s); err == nil {
			t.Errorf("Report(%+v) accepted", s)
		}
	}
	if s := c.Stats(); s.Produced != 0 {
		t.Fatalf("invalid samples were counted: %+v", s)
	}
}

func nan() float64 { var z float64; return z / z }

func TestReporterReportValues(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, tripswitch.WithTraceIDExtractor(func(context.Context) string { return "" }))
	rep, err := c.NewReporter("rtr_h", "latency", map[string]string{"route": "/pay"})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Truncate(time.Millisecond)
	if err := rep.ReportValues(context.Background(), ts, []float64{1, 2, nan()}, true, ""); err == nil {
		t.Fatal("non-finite value accepted")
	}
	_ = rep.Report(context.Background(), ts, 0.5, true, "")
	if err := rep.ReportValues(context.Background(), ts, []float64{10, 20, 30}, false, "4bf92f3577b34da6a3ce929d0e0e4736"); err != nil {
		t.Fatal(err)
	}
	if err := rep.ReportValues(context.Background(), ts, []float64{40, 50}, true, ""); err != nil {
		t.Fatal(err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Produced != 6 || s.Buffered != 6 {
		t.Fatalf("stats %+v", s)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := f.samples()
	// One timestamp for all: the order among them is not promised.
	sort.Slice(got, func(i, j int) bool { return num(t, got[i]["value"]) < num(t, got[j]["value"]) })
	var values []float64
	for _, smp := range got {
		values = append(values, num(t, smp["value"]))
		if num(t, smp["ts_ms"]) != float64(ts.UnixMilli()) {
			t.Fatalf("sample %v", smp)
		}
	}
	if fmt.Sprint(values) != "[0.5 10 20 30 40 50]" {
		t.Fatalf("values %v", values)
	}
	if got[1]["ok"] != false || got[1]["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || got[4]["ok"] != true || got[1]["tags"].(map[string]any)["route"] != "/pay" {
		t.Fatalf("samples %v", got)
	}
	closeClient(t, c)
	if err := rep.ReportValues(context.Background(), ts, []float64{1, 2}, true, ""); !errors.Is(err, tripswitch.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if s := c.Stats(); s.Produced != 8 || s.Dropped != 2 {
		t.Fatalf("stats after Close %+v", s)
	}
}
