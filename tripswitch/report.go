package tripswitch

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

// Sample is one measurement reported outside Execute.
type Sample struct {
	RouterID string            // required
	Metric   string            // required
	Value    float64           // must be finite; 1 is customary when only OK matters
	OK       bool              // false for a failure
	Time     time.Time         // zero: now
	Tags     map[string]string // merged over the client's global tags
	TraceID  string            // empty: the client's trace-ID extractor, if any
}

var (
	errNoRouter    = errors.New("tripswitch: sample has no router ID")
	errNoMetric    = errors.New("tripswitch: sample has no metric name")
	errValueNotNum = errors.New("tripswitch: sample value is not a finite number")
)

// Report queues one sample for delivery. It never blocks and never does
// network I/O. It returns an error for an invalid sample (nothing is
// queued) and ErrClosed after Close (the sample is counted as dropped).
func (c *Client) Report(ctx context.Context, s Sample) error {
	switch {
	case s.RouterID == "":
		return errNoRouter
	case s.Metric == "":
		return errNoMetric
	case !finite(s.Value):
		return errValueNotNum
	}
	s.Time, s.TraceID = c.stamp(ctx, s.Time, s.TraceID)
	return c.push(s.Time.UnixNano(), &wire.Sample{
		RouterID: s.RouterID,
		Metric:   s.Metric,
		TsMs:     s.Time.UnixMilli(),
		Value:    s.Value,
		OK:       s.OK,
		Tags:     wire.Merge(c.globalTags, s.Tags),
		TraceID:  s.TraceID,
	})
}

func (c *Client) push(key int64, s *wire.Sample) error {
	c.pipe.push(s, key)
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

// A Reporter reports samples of one metric to one router with fixed tags.
// It does the validation and tag merging once, so each Report allocates
// nothing. A Reporter is safe for concurrent use.
type Reporter struct {
	c      *Client
	router string
	metric string
	tags   *wire.Tags
}

// NewReporter returns a Reporter for routerID and metric; tags (copied) are
// merged over the client's global tags.
func (c *Client) NewReporter(routerID, metric string, tags map[string]string) (*Reporter, error) {
	switch {
	case routerID == "":
		return nil, errNoRouter
	case metric == "":
		return nil, errNoMetric
	}
	return &Reporter{c: c, router: routerID, metric: metric, tags: wire.Merge(c.globalTags, tags)}, nil
}

// Report queues one sample taken at t (zero: now). An empty traceID uses
// the client's extractor on ctx. See Client.Report for the errors.
func (r *Reporter) Report(ctx context.Context, t time.Time, value float64, ok bool, traceID string) error {
	if !finite(value) {
		return errValueNotNum
	}
	c := r.c
	t, traceID = c.stamp(ctx, t, traceID)
	return c.push(t.UnixNano(), &wire.Sample{
		RouterID: r.router,
		Metric:   r.metric,
		TsMs:     t.UnixMilli(),
		Value:    value,
		OK:       ok,
		Tags:     r.tags,
		TraceID:  traceID,
	})
}

// stamp fills in a sample's defaults: now for a zero time, and the
// extractor's trace ID for an empty one.
func (c *Client) stamp(ctx context.Context, t time.Time, traceID string) (time.Time, string) {
	if t.IsZero() {
		t = c.now()
	}
	if traceID == "" && c.traceIDFn != nil {
		traceID = c.extractTraceID(ctx)
	}
	return t, traceID
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// ReportValues queues one sample per value, all taken at t (zero: now)
// with the same ok and trace ID, for bulk producers such as a histogram
// expanded into samples: the samples go to the buffer under one lock. It
// queues nothing and returns an error when a value is not finite.
func (r *Reporter) ReportValues(ctx context.Context, t time.Time, values []float64, ok bool, traceID string) error {
	for _, v := range values {
		if !finite(v) {
			return errValueNotNum
		}
	}
	if len(values) == 0 {
		return nil
	}
	c := r.c
	t, traceID = c.stamp(ctx, t, traceID)
	c.pipe.pushValues(&wire.Sample{
		RouterID: r.router,
		Metric:   r.metric,
		TsMs:     t.UnixMilli(),
		OK:       ok,
		Tags:     r.tags,
		TraceID:  traceID,
	}, values, t.UnixNano())
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}
