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
	"sync"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// maxSplitRequests bounds the requests spent on one refused batch while
// it is split to find the samples the server accepts.
const maxSplitRequests = 64

// flusher owns the delivery of batches. Its goroutine takes batches out of
// the buffer and settles their outcomes; each request runs on a goroutine
// of its own, at most maxInFlight at once (one while deliveries fail).
type flusher struct {
	c        *Client
	free     []*sender    // senders not in flight
	results  chan *sender // finished requests; room for every sender
	inFlight int
	requests sync.WaitGroup

	failures int       // consecutive retryable failures
	retryAt  time.Time // no delivery attempt before this, except on Flush
	refused  []*DeliveryError
	drainAll bool // the flush interval passed: send partial batches too

	waiters  []chan flushOutcome // Flush calls waiting for the buffer to empty
	flushErr error               // a retryable failure since they began
}

// sender is one request's encoder and batch, reused from one batch to the
// next.
type sender struct {
	enc        *wire.Encoder
	batch      []wire.Sample
	failures   int // the flusher's failures when the request began
	res        FlushResult
	retryAfter time.Duration
}

// flushOutcome is what one Flush request found.
type flushOutcome struct {
	retry   error   // a retryable failure; the samples stay buffered
	refused []error // batches refused since the previous Flush, one *DeliveryError per kind
}

func (o flushOutcome) err() error {
	return errors.Join(append(o.refused, o.retry)...)
}

func newFlusher(c *Client) *flusher {
	f := &flusher{c: c, results: make(chan *sender, c.cfg.maxInFlight)}
	for range c.cfg.maxInFlight {
		f.free = append(f.free, &sender{
			enc:   wire.NewEncoder(c.secret),
			batch: make([]wire.Sample, 0, min(c.cfg.batchSize, c.cfg.bufferCapacity, 1024)),
		})
	}
	return f
}

// runFlusher delivers batches until ctx ends, which also aborts the
// requests in flight; it returns once their outcomes are settled.
func (c *Client) runFlusher(ctx context.Context) {
	f := newFlusher(c)
	defer f.finishAll(ctx)
	// The loop wakes at least once a second, to re-anchor the clock used
	// for sample timestamps and to send full batches.
	const anchorPeriod = time.Second
	nextInterval := time.Now().Add(c.cfg.flushInterval)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		if !now.Before(nextInterval) {
			f.drainAll = true
			nextInterval = now.Add(c.cfg.flushInterval)
		}
		f.fill(ctx, now)
		f.answer()
		wait := nextInterval.Sub(now)
		if f.failures > 0 {
			wait = f.retryAt.Sub(now)
		}
		timer.Reset(max(min(wait, anchorPeriod), time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case s := <-f.results:
			f.finish(ctx, s)
		case done := <-c.flushReq:
			f.waiters = append(f.waiters, done)
		case <-c.pipe.notify:
		case <-timer.C:
		}
		c.reanchor()
	}
}

// fill starts requests while senders are free and the buffer has a batch
// to send: a full one, or any samples when a Flush waits, the flush
// interval has passed or a failed delivery is due for retry.
func (f *flusher) fill(ctx context.Context, now time.Time) {
	c := f.c
	for len(f.free) > 0 {
		flushing := len(f.waiters) > 0
		if flushing && f.flushErr != nil {
			return // the waiting Flush calls get the failure once the rest is back
		}
		atLeast := c.cfg.batchSize
		if f.failures > 0 {
			if f.inFlight > 0 || (!flushing && now.Before(f.retryAt)) {
				return // one request probes the server at a time
			}
			atLeast = 0
		}
		if flushing || f.drainAll {
			atLeast = 0
		}
		s := f.free[len(f.free)-1]
		s.batch = c.pipe.take(s.batch, c.cfg.batchSize, atLeast)
		if len(s.batch) == 0 {
			if atLeast == 0 {
				f.drainAll = false
			}
			return
		}
		f.free = f.free[:len(f.free)-1]
		c.names.noteRouters(s.batch)
		s.failures = f.failures
		f.inFlight++
		f.requests.Add(1)
		go func() {
			defer f.requests.Done()
			s.res, s.retryAfter = c.send(ctx, s.enc, s.batch)
			f.results <- s
		}()
	}
}

// answer replies to the waiting Flush calls once nothing is in flight and
// fill started nothing: the buffer is empty, or delivery failed.
func (f *flusher) answer() {
	if len(f.waiters) == 0 || f.inFlight > 0 {
		return
	}
	o := flushOutcome{retry: f.flushErr, refused: f.takeRefused()}
	for _, w := range f.waiters {
		w <- o
	}
	clear(f.waiters)
	f.waiters, f.flushErr = f.waiters[:0], nil
}

// finish settles the outcome of a request. A batch refused with 400 or
// 413 is split to deliver the samples the server accepts; refused samples
// are dropped and remembered for the next Flush. A batch that failed
// otherwise goes back into the buffer, to be retried.
func (f *flusher) finish(ctx context.Context, s *sender) {
	c := f.c
	f.inFlight--
	defer func() { f.free = append(f.free, s) }()
	res, n := s.res, len(s.batch)
	f.record(res)
	switch {
	case res.Err == nil:
		c.pipe.resolve(n, 0)
		f.report(res)
	case res.Retrying:
		c.pipe.requeue(s.batch)
		if s.failures == f.failures { // not yet backing off from a later failure
			f.backoff(s.retryAfter)
		}
		f.report(res)
		f.failed(res.Err)
	case splittable(res) && n > 1:
		f.report(res)
		if err := f.split(ctx, s.enc, s.batch); err != nil {
			f.failed(err)
		}
	default:
		c.pipe.resolve(0, n)
		f.refuse(res.Err, n)
		f.report(res)
	}
}

// failed records a retryable failure for the waiting Flush calls.
func (f *flusher) failed(err error) {
	if len(f.waiters) > 0 && f.flushErr == nil {
		f.flushErr = err
	}
}

// finishAll waits for the requests in flight, which ctx has ended, and
// settles them.
func (f *flusher) finishAll(ctx context.Context) {
	f.requests.Wait()
	for f.inFlight > 0 {
		f.finish(ctx, <-f.results)
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
func (f *flusher) split(ctx context.Context, enc *wire.Encoder, batch []wire.Sample) error {
	c := f.c
	h := len(batch) / 2
	parts := [][]wire.Sample{batch[:h], batch[h:]}
	budget := maxSplitRequests
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		res, retryAfter := f.c.send(ctx, enc, part)
		f.record(res)
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

// record counts an attempt's outcome in the health counters.
func (f *flusher) record(res FlushResult) {
	c := f.c
	if res.Err == nil {
		f.failures = 0
		f.retryAt = time.Time{}
		c.lastFlush.Store(time.Now().UnixNano())
		return
	}
	c.flushFails.Add(1)
	c.lastDeliveryErr.Store(&res.Err)
}

// backoff schedules the next attempt after a retryable failure.
func (f *flusher) backoff(retryAfter time.Duration) {
	c := f.c
	f.failures++
	d := retryDelay(f.failures, c.randFloat())
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

// send delivers one batch once, encoded with enc. Requests of several
// batches may run at once, each with its own encoder.
func (c *Client) send(ctx context.Context, enc *wire.Encoder, batch []wire.Sample) (res FlushResult, retryAfter time.Duration) {
	res.Samples = len(batch)
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	e, err := enc.Encode(batch, c.now().UnixMilli())
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
	e.SetHeaders(req.Header)
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		res.Err = transportError("POST", "/ingest", err)
		res.Retrying = true
		return res, 0
	}
	defer httpx.DrainClose(resp.Body)
	res.StatusCode = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return res, 0
	}
	de := readDeliveryError(resp, len(batch))
	res.Err = de
	if de.Retrying {
		res.Retrying = true
		retryAfter, _ = httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return res, retryAfter
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

// retryDelay is the capped exponential backoff for a failed batch: 100 ms,
// 200 ms, 400 ms, … up to 30 s, with ±20 % jitter; u is a uniform draw
// from [0, 1).
func retryDelay(attempt int, u float64) time.Duration {
	return httpx.Jitter(httpx.Exponential(100*time.Millisecond, 30*time.Second, attempt), 0.8, 0.4, u)
}
