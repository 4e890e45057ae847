package tripswitch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

// flusher owns the delivery of batches; it runs on one goroutine.
type flusher struct {
	c        *Client
	enc      *wire.Encoder
	batch    []wire.Sample
	failures int          // consecutive retryable failures
	retryAt  time.Time    // no delivery attempt before this, except on Flush
	logged   map[int]bool // 4xx statuses already logged
}

func (c *Client) runFlusher(ctx context.Context) {
	f := &flusher{
		c:      c,
		enc:    wire.NewEncoder(c.secret),
		batch:  make([]wire.Sample, 0, min(c.cfg.batchSize, c.cfg.bufferCapacity, 1024)),
		logged: map[int]bool{},
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
			done <- f.deliver(ctx, 0)
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
				// Full batches whose last samples are still staged did
				// not signal; send them now.
				_ = f.deliver(ctx, c.cfg.batchSize)
			}
		}
		c.reanchor()
	}
}

// deliver sends batches, oldest first, while at least atLeast samples are
// buffered (atLeast 0: everything). It stops at the first retryable failure and
// returns it.
func (f *flusher) deliver(ctx context.Context, atLeast int) error {
	c := f.c
	for {
		f.batch = c.pipe.take(f.batch, c.cfg.batchSize, atLeast)
		if len(f.batch) == 0 {
			return nil
		}
		c.names.noteRouters(f.batch)
		res, retryAfter := f.send(ctx)
		switch {
		case res.Err == nil:
			f.failures = 0
			f.retryAt = time.Time{}
			c.pipe.settle(true)
			c.lastFlush.Store(time.Now().UnixNano())
		case res.Retrying:
			c.pipe.retry()
			c.flushFails.Add(1)
			f.failures++
			d := retryDelay(f.failures, c.randFloat)
			if retryAfter > d {
				d = min(retryAfter, time.Minute)
			}
			f.retryAt = time.Now().Add(d)
			if f.failures == 1 || f.failures%10 == 0 {
				c.logger.Warn("tripswitch: sample delivery failed; will retry",
					"samples", res.Samples, "status", res.StatusCode, "error", res.Err, "attempt", f.failures, "retry_in", d)
			}
		default:
			c.flushFails.Add(1)
			n := c.pipe.settle(false)
			if !f.logged[res.StatusCode] {
				f.logged[res.StatusCode] = true
				c.logger.Error("tripswitch: server refused a batch; its samples are dropped",
					"samples", n, "status", res.StatusCode, "error", res.Err)
			}
		}
		for _, fn := range c.onFlush {
			c.safely("Flush hook", func() { fn(res) })
		}
		if res.Retrying {
			return res.Err
		}
	}
}

// send delivers f.batch once.
func (f *flusher) send(ctx context.Context) (res FlushResult, retryAfter time.Duration) {
	c := f.c
	res.Samples = len(f.batch)
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	e, err := f.enc.Encode(f.batch, c.now().UnixMilli())
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
	drainClose(resp.Body)
	res.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return res, 0
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		res.Err = &deliveryError{status: resp.StatusCode}
		res.Retrying = true
		return res, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		res.Err = &deliveryError{status: resp.StatusCode}
		return res, 0
	}
}

// deliveryError is a batch refused by the server.
type deliveryError struct{ status int }

func (e *deliveryError) Error() string {
	return "ingest answered " + strconv.Itoa(e.status) + " " + http.StatusText(e.status)
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
