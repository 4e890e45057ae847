package tripswitch

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"
	"unicode/utf8"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// Sample is one measurement reported outside Execute.
//
// The ingest contract limits a sample: router ID, metric and trace ID at
// most 128 characters, at most 32 tags (the client's global tags
// included), tag keys at most 128 and values at most 256 characters.
// Report refuses a sample beyond them with an error matching
// ErrInvalidSample, as it does a time more than 5 minutes ahead of the
// client's clock or more than 24 hours behind it.
type Sample struct {
	RouterID string            // required
	Metric   string            // required
	Value    float64           // must be finite; 1 is customary when only OK matters
	OK       bool              // false for a failure
	Time     time.Time         // zero: now
	Tags     map[string]string // merged over the client's global tags
	TraceID  string            // empty: the client's trace-ID extractor, if any
}

// The window around the client's clock in which a reported sample's time
// must fall.
const (
	maxSampleAhead  = 5 * time.Minute
	maxSampleBehind = 24 * time.Hour
)

var (
	errNoRouter    = invalidSample("router ID is empty")
	errNoMetric    = invalidSample("metric name is empty")
	errValueNotNum = invalidSample("value is not a finite number")
)

func invalidSample(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSample, fmt.Sprintf(format, args...))
}

// Report queues one sample for delivery. It never blocks and never does
// network I/O. It returns an error matching ErrInvalidSample for a sample
// the ingest contract does not allow (nothing is queued or counted), and
// ErrClosed after Close (the sample is counted as dropped).
func (c *Client) Report(ctx context.Context, s Sample) error {
	switch {
	case s.RouterID == "":
		return errNoRouter
	case s.Metric == "":
		return errNoMetric
	case !finite(s.Value):
		return errValueNotNum
	}
	if err := checkNames(s.RouterID, s.Metric); err != nil {
		return err
	}
	if err := c.checkTime(s.Time); err != nil {
		return err
	}
	s.Time, s.TraceID = c.stamp(ctx, s.Time, s.TraceID)
	tags := wire.Merge(c.globalTags, s.Tags)
	if p := tags.Problem(); p != "" {
		return invalidSample("%s", p)
	}
	if wire.TooLong(s.TraceID, wire.MaxTraceIDLen) {
		return tooLong("trace ID", s.TraceID, wire.MaxTraceIDLen)
	}
	return c.push(s.Time.UnixNano(), &wire.Sample{
		RouterID: s.RouterID,
		Metric:   s.Metric,
		TsMs:     s.Time.UnixMilli(),
		Value:    s.Value,
		OK:       s.OK,
		Tags:     tags,
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

// queue queues a sample no caller will hear about (one of Execute's): a
// sample beyond the contract's limits is counted as dropped, and logged
// at most once a minute per field, instead of being sent (the server
// would refuse its whole batch).
func (c *Client) queue(s *wire.Sample, key int64) {
	if field, problem := sampleProblem(s); problem != "" {
		c.pipe.reject(1, true)
		c.logEvery(slog.LevelWarn, "invalid-sample:"+field,
			"tripswitch: sample breaks the ingest limits; dropped", "field", field, "problem", problem,
			"router_id", truncate(s.RouterID, 40), "metric", truncate(s.Metric, 40))
		return
	}
	c.pipe.push(s, key)
}

// sampleProblem names the field of s beyond the contract's limits, and
// says why. It costs a few comparisons for a valid sample.
func sampleProblem(s *wire.Sample) (field, problem string) {
	switch {
	case wire.TooLong(s.RouterID, wire.MaxIDLen):
		return "router_id", lengthProblem(s.RouterID, wire.MaxIDLen)
	case wire.TooLong(s.Metric, wire.MaxMetricLen):
		return "metric", lengthProblem(s.Metric, wire.MaxMetricLen)
	case wire.TooLong(s.TraceID, wire.MaxTraceIDLen):
		return "trace_id", lengthProblem(s.TraceID, wire.MaxTraceIDLen)
	case s.Tags.Problem() != "":
		return "tags", s.Tags.Problem()
	}
	return "", ""
}

func lengthProblem(s string, limit int) string {
	return fmt.Sprintf("%d characters; the limit is %d", utf8.RuneCountInString(s), limit)
}

func tooLong(what, s string, limit int) error {
	return invalidSample("%s has %s", what, lengthProblem(s, limit))
}

// checkNames checks a sample's router ID and metric against the limits.
func checkNames(routerID, metric string) error {
	if wire.TooLong(routerID, wire.MaxIDLen) {
		return tooLong("router ID", routerID, wire.MaxIDLen)
	}
	if wire.TooLong(metric, wire.MaxMetricLen) {
		return tooLong("metric", metric, wire.MaxMetricLen)
	}
	return nil
}

// checkTime refuses a sample time outside the window around the client's
// clock. It reads the clock anchor the flusher refreshes every second, not
// the clock itself.
func (c *Client) checkTime(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	d := t.Sub(time.Unix(0, c.clock.Load().baseNs)) // saturates, unlike UnixNano
	switch {
	case d > maxSampleAhead+2*time.Second:
		return invalidSample("time %s is %v ahead of the client's clock (at most %v)", t.Format(time.RFC3339), d.Round(time.Second), maxSampleAhead)
	case d < -maxSampleBehind:
		return invalidSample("time %s is %v behind the client's clock (at most %v)", t.Format(time.RFC3339), (-d).Round(time.Second), maxSampleBehind)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
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
// merged over the client's global tags. It returns an error matching
// ErrInvalidSample when they break the limits described at Sample.
func (c *Client) NewReporter(routerID, metric string, tags map[string]string) (*Reporter, error) {
	switch {
	case routerID == "":
		return nil, errNoRouter
	case metric == "":
		return nil, errNoMetric
	}
	if err := checkNames(routerID, metric); err != nil {
		return nil, err
	}
	merged := wire.Merge(c.globalTags, tags)
	if p := merged.Problem(); p != "" {
		return nil, invalidSample("%s", p)
	}
	return &Reporter{c: c, router: routerID, metric: metric, tags: merged}, nil
}

// Report queues one sample taken at t (zero: now). An empty traceID uses
// the client's extractor on ctx. See Client.Report for the errors.
func (r *Reporter) Report(ctx context.Context, t time.Time, value float64, ok bool, traceID string) error {
	if !finite(value) {
		return errValueNotNum
	}
	c := r.c
	if err := c.checkTime(t); err != nil {
		return err
	}
	t, traceID = c.stamp(ctx, t, traceID)
	if wire.TooLong(traceID, wire.MaxTraceIDLen) {
		return tooLong("trace ID", traceID, wire.MaxTraceIDLen)
	}
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
	if err := c.checkTime(t); err != nil {
		return err
	}
	t, traceID = c.stamp(ctx, t, traceID)
	if wire.TooLong(traceID, wire.MaxTraceIDLen) {
		return tooLong("trace ID", traceID, wire.MaxTraceIDLen)
	}
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
