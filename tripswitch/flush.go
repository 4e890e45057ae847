package tripswitch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

// maxSplitRequests bounds the requests spent on one refused batch while
// it is split to find the samples the server accepts.
const maxSplitRequests = 64

// flusher owns the delivery of batches; it runs on one goroutine.
type flusher struct {
	c        *Client
	enc      *wire.Encoder
	batch    []wire.Sample
	failures int       // consecutive retryable failures
	retryAt  time.Time // no delivery attempt before this, except on Flush
	refused  []*DeliveryError
}

// flushOutcome is what one Flush request found.
type flushOutcome struct {
	retry   error   // a retryable failure; the samples stay buffered
	refused []error // batches refused since the previous Flush, one *DeliveryError per kind
}

func (o flushOutcome) err() error {
	return errors.Join(append(o.refused, o.retry)...)
}

func (c *Client) runFlusher(ctx context.Context) {
	f := &flusher{
		c:     c,
		enc:   wire.NewEncoder(c.secret),
		batch: make([]wire.Sample, 0, min(c.cfg.batchSize, c.cfg.bufferCapacity, 1024)),
	}
	// The loop wakes at least once a second, to re-anchor the clock used
	// for sample timestamps and to send full batches.
	const anchorPeriod = time.Second
	nextInterval := time.Now().Add(c.cfg.flushInterval)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := time.Until(nextInterval)
		if f.failures > 0 {
			wait = time.Until(f.retryAt)
		}
		timer.Reset(max(min(wait, anchorPeriod), time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-c.stopFlushing:
			return
		case done := <-c.flushReq:
			var o flushOutcome
			o.retry = f.deliver(ctx, 0)
			o.refused = f.takeRefused()
			done <- o
		case <-c.pipe.notify:
			if f.failures == 0 {
				_ = f.deliver(ctx, c.cfg.batchSize)
			}
		case now := <-timer.C:
			switch {
			case f.failures > 0:
				if !now.Before(f.retryAt) {
					_ = f.deliver(ctx, 0)
				}
			case !now.Before(nextInterval):
				_ = f.deliver(ctx, 0)
				nextInterval = now.Add(c.cfg.flushInterval)
			default:
				_ = f.deliver(ctx, c.cfg.batchSize)
			}
		}
		c.reanchor()
	}
}

// deliver sends batches, oldest first, while at least atLeast samples are
// buffered (atLeast 0: everything). It stops at the first retryable
// failure and returns it. A batch refused with 400 or 413 is split to
// deliver the samples the server accepts; refused samples are dropped and
// remembered for the next Flush.
func (f *flusher) deliver(ctx context.Context, atLeast int) error {
	c := f.c
	for {
		f.batch = c.pipe.take(f.batch, c.cfg.batchSize, atLeast)
		n := len(f.batch)
		if n == 0 {
			return nil
		}
		c.names.noteRouters(f.batch)
		res, retryAfter := f.attempt(ctx, f.batch)
		switch {
		case res.Err == nil:
			c.pipe.settle(n, 0)
			f.report(res)
		case res.Retrying:
			c.pipe.retry()
			f.backoff(retryAfter)
			f.report(res)
			return res.Err
		case splittable(res) && n > 1:
			c.pipe.settle(0, 0) // the flusher holds the batch now
			f.report(res)
			if err := f.split(ctx, f.batch); err != nil {
				return err
			}
		default:
			c.pipe.settle(0, n)
			f.refuse(res.Err, n)
			f.report(res)
		}
	}
}

// splittable reports whether a smaller batch may succeed where res failed:
// the server refused the batch's content or its size.
func splittable(res FlushResult) bool {
	return res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusRequestEntityTooLarge
}

// split delivers a refused batch, which the flusher holds, in halves,
// halving the refused parts again until single samples are refused (or
// the request budget is spent). On a retryable failure the parts not yet
// delivered go back into the buffer.
func (f *flusher) split(ctx context.Context, batch []wire.Sample) error {
	c := f.c
	h := len(batch) / 2
	parts := [][]wire.Sample{batch[:h], batch[h:]}
	budget := maxSplitRequests
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		res, retryAfter := f.attempt(ctx, part)
		budget--
		switch {
		case res.Err == nil:
			c.pipe.resolve(len(part), 0)
		case res.Retrying:
			rest := append([]wire.Sample(nil), part...)
			for _, p := range parts {
				rest = append(rest, p...)
			}
			c.pipe.requeue(rest)
			f.backoff(retryAfter)
			f.report(res)
			return res.Err
		case splittable(res) && len(part) > 1 && budget >= 2:
			h := len(part) / 2
			parts = append([][]wire.Sample{part[:h], part[h:]}, parts...)
		default:
			c.pipe.resolve(0, len(part))
			f.refuse(res.Err, len(part))
		}
		f.report(res)
	}
	return nil
}

// report passes an attempt's result to the Flush hooks, once the buffer
// has its outcome.
func (f *flusher) report(res FlushResult) {
	c := f.c
	for _, fn := range c.onFlush {
		c.flushHooks.call(c, "Flush hook", func() { fn(res) })
	}
}

// attempt sends one batch and records the outcome in the health counters.
func (f *flusher) attempt(ctx context.Context, batch []wire.Sample) (FlushResult, time.Duration) {
	c := f.c
	res, retryAfter := f.send(ctx, batch)
	switch {
	case res.Err == nil:
		f.failures = 0
		f.retryAt = time.Time{}
		c.lastFlush.Store(time.Now().UnixNano())
	default:
		c.flushFails.Add(1)
		c.lastDeliveryErr.Store(&res.Err)
	}
	return res, retryAfter
}

// backoff schedules the next attempt after a retryable failure.
func (f *flusher) backoff(retryAfter time.Duration) {
	c := f.c
	f.failures++
	d := retryDelay(f.failures, c.randFloat)
	if retryAfter > d {
		d = min(retryAfter, time.Minute)
	}
	f.retryAt = time.Now().Add(d)
	err := *c.lastDeliveryErr.Load()
	c.logEvery(slog.LevelWarn, "delivery-retry", "tripswitch: sample delivery failed; will retry",
		"error", err, "attempt", f.failures, "retry_in", d)
}

// refuse records n samples dropped because the server refused them with
// err, for the next Flush, and logs it.
func (f *flusher) refuse(err error, n int) {
	c := f.c
	var de *DeliveryError
	if !errors.As(err, &de) {
		de = &DeliveryError{Message: err.Error()}
	}
	c.logEvery(slog.LevelError, "delivery-refused:"+strconv.Itoa(de.StatusCode)+":"+de.Code,
		"tripswitch: server refused samples; they are dropped",
		"samples", n, "status", de.StatusCode, "code", de.Code, "message", de.Message)
	for _, r := range f.refused {
		if r.StatusCode == de.StatusCode && r.Code == de.Code {
			r.Samples += n
			r.Message = de.Message
			return
		}
	}
	if len(f.refused) == 8 { // bounded: merge into the last kind
		f.refused[7].Samples += n
		return
	}
	cp := *de
	cp.Samples = n
	f.refused = append(f.refused, &cp)
}

// takeRefused returns the refusals since the previous call.
func (f *flusher) takeRefused() []error {
	if len(f.refused) == 0 {
		return nil
	}
	errs := make([]error, len(f.refused))
	for i, r := range f.refused {
		errs[i] = r
	}
	f.refused = nil
	return errs
}

// send delivers one batch once.
func (f *flusher) send(ctx context.Context, batch []wire.Sample) (res FlushResult, retryAfter time.Duration) {
	c := f.c
	res.Samples = len(batch)
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	e, err := f.enc.Encode(batch, c.now().UnixMilli())
	if err != nil {
		res.Err = fmt.Errorf("encoding batch: %w", err)
		return res, 0
	}
	res.Bytes = len(e.Body)
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/ingest", bytes.NewReader(e.Body))
	if err != nil {
		res.Err = err
		return res, 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-EB-Timestamp", e.Timestamp)
	if e.Signature != "" {
		req.Header.Set("X-EB-Signature", e.Signature)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		res.Err = transportError("POST", "/ingest", err)
		res.Retrying = true
		return res, 0
	}
	defer drainClose(resp.Body)
	res.StatusCode = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return res, 0
	}
	de := readDeliveryError(resp, len(batch))
	res.Err = de
	if de.Retrying {
		res.Retrying = true
		return res, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res, 0
}

// readDeliveryError reads the server's {"code","message"} error body.
func readDeliveryError(resp *http.Response, samples int) *DeliveryError {
	de := &DeliveryError{
		StatusCode: resp.StatusCode,
		Samples:    samples,
		Retrying:   resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
	}
	var body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) == nil {
		de.Code = cleanServerText(body.Code, 64)
		de.Message = cleanServerText(body.Message, 256)
	}
	return de
}

// parseRetryAfter reads Retry-After in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
