package tripswitch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/r3labs/sse/v2"
)

// maxEventBytes bounds one state stream event.
const maxEventBytes = 1 << 20

// streamStats is the state stream's bookkeeping.
type streamStats struct {
	connected  atomic.Bool
	reconnects atomic.Uint64
	lastEvent  atomic.Int64 // unix nanos

	synced   chan struct{} // closed at the first event ever
	syncOnce sync.Once
	fatal    chan error // a refusal (401/403/404) before the first sync

	mu      sync.Mutex
	lastErr error
	gen     uint64 // bumped when the stream goes down and at every sync
	down    bool   // lost since the last sync; the grace timer runs
	stale   *time.Timer
	frozen  bool
}

func (s *streamStats) init() {
	s.synced = make(chan struct{})
	s.fatal = make(chan error, 1)
}

func (s *streamStats) lastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// freeze stops staleness tracking (Close keeps the last known state).
func (s *streamStats) freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frozen = true
	if s.stale != nil {
		s.stale.Stop()
	}
}

// statusError is a state stream connection the server refused.
type statusError struct {
	status int
}

func (e *statusError) Error() string {
	switch e.status {
	case http.StatusUnauthorized:
		return "server answered 401 Unauthorized: the project key was not accepted"
	case http.StatusForbidden:
		return "server answered 403 Forbidden: the project key belongs to another project"
	case http.StatusNotFound:
		return "server answered 404 Not Found: no such project"
	}
	return fmt.Sprintf("server answered %d %s instead of an event stream", e.status, http.StatusText(e.status))
}

func (e *statusError) permanent() bool {
	return e.status == http.StatusUnauthorized || e.status == http.StatusForbidden || e.status == http.StatusNotFound
}

var errStreamIdle = errors.New("state stream idle: no data within the idle timeout")

// runStream keeps the state stream connected until ctx ends, reconnecting
// with the backoff of PROTOCOL.md §2 (with jitter), reset after a
// connection that delivered an event.
func (c *Client) runStream(ctx context.Context) {
	attempt := 0
	for first := true; ; first = false {
		if !first {
			c.stream.reconnects.Add(1)
		}
		good, err := c.streamOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		c.streamDown(err)
		var se *statusError
		if errors.As(err, &se) && se.permanent() {
			select {
			case c.stream.fatal <- err:
			default:
			}
			c.logger.Error("tripswitch: state stream refused", "error", err)
		} else {
			c.logger.Warn("tripswitch: state stream disconnected", "error", err)
		}
		if good {
			attempt = 0
		}
		steps := c.cfg.backoff
		d := steps[min(attempt, len(steps)-1)]
		d = time.Duration(float64(d) * (0.8 + 0.4*c.randFloat()))
		attempt++
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// streamDown records a lost connection and starts the grace period after
// which the cached state stops counting as fresh.
func (c *Client) streamDown(err error) {
	c.stream.connected.Store(false)
	s := &c.stream
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if s.frozen || s.down {
		return // the grace period runs from the first failure
	}
	s.down = true
	s.gen++
	gen := s.gen
	if s.stale != nil {
		s.stale.Stop()
	}
	if c.cfg.gracePeriod == 0 {
		c.fresh.Store(false)
		return
	}
	s.stale = time.AfterFunc(c.cfg.gracePeriod, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.gen == gen && !s.frozen {
			c.fresh.Store(false)
			c.logger.Warn("tripswitch: breaker state is stale", "down_for", c.cfg.gracePeriod)
		}
	})
}

// streamSynced records the first event of a connection.
func (c *Client) streamSynced() {
	s := &c.stream
	s.mu.Lock()
	if !s.frozen {
		s.gen++
		s.down = false
		if s.stale != nil {
			s.stale.Stop()
		}
		c.fresh.Store(true)
	}
	s.mu.Unlock()
	s.syncOnce.Do(func() { close(s.synced) })
}

// streamOnce runs one connection; good reports whether it delivered an
// event.
func (c *Client) streamOnce(ctx context.Context) (good bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// The watchdog cancels the connection when no byte arrives (not even
	// a keep-alive comment) for the idle timeout, from the request on.
	var lastByte atomic.Int64
	lastByte.Store(time.Now().UnixNano())
	idle := c.cfg.streamIdleTimeout
	var watchdog *time.Timer
	var wmu sync.Mutex
	var check func()
	check = func() {
		quiet := time.Since(time.Unix(0, lastByte.Load()))
		if quiet >= idle {
			cancel(errStreamIdle)
			return
		}
		wmu.Lock()
		watchdog.Reset(idle - quiet)
		wmu.Unlock()
	}
	wmu.Lock()
	watchdog = time.AfterFunc(idle, func() { check() })
	wmu.Unlock()
	defer watchdog.Stop()

	req, err := c.newRequest(ctx, http.MethodGet, "/breakers/state:stream", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := c.http.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errStreamIdle) {
			return false, cause
		}
		return false, transportError("GET", "/breakers/state:stream", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, &statusError{status: resp.StatusCode}
	}
	c.stream.connected.Store(true)
	r := sse.NewEventStreamReader(&activityReader{r: resp.Body, last: &lastByte}, maxEventBytes)
	for {
		raw, err := r.ReadEvent()
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return good, cause
			}
			if err == io.EOF {
				return good, errors.New("state stream closed by the server")
			}
			return good, fmt.Errorf("reading state stream: %w", err)
		}
		data, ok := eventData(raw)
		if !ok {
			continue // a comment, such as ": ping", or an empty event
		}
		if c.handleEvent(data) && !good {
			good = true
			c.streamSynced()
		}
	}
}

// handleEvent applies one event payload and reports whether it was valid.
func (c *Client) handleEvent(data []byte) bool {
	ev, st, err := decodeStateEvent(data)
	if err != nil {
		c.logger.Warn("tripswitch: ignoring malformed state event", "error", err)
		return false
	}
	rate := 1.0
	switch st {
	case StateOpen:
		rate = 0
	case StateHalfOpen:
		if ev.AllowRate == nil {
			c.logger.Warn("tripswitch: half-open event without allow_rate; treating it as 0", "breaker", ev.Breaker)
			rate = 0
		} else {
			rate = *ev.AllowRate
		}
	}
	now := c.now()
	c.stream.lastEvent.Store(now.UnixNano())
	prev, known := c.states.apply(ev.Breaker, st, rate, now)
	if known && prev != st {
		c.callbacks.enqueue(stateChange{name: ev.Breaker, from: prev, to: st})
	}
	return true
}

// eventData extracts the data of one raw event (the text between blank
// lines): the "data:" lines joined by newlines. ok is false for an event
// without data, such as a comment.
func eventData(raw []byte) (data []byte, ok bool) {
	for len(raw) > 0 {
		var line []byte
		if i := bytes.IndexAny(raw, "\r\n"); i >= 0 {
			line = raw[:i]
			raw = raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		if !bytes.HasPrefix(line, []byte("data")) {
			continue // comments, event:, id:, retry: and unknown fields
		}
		rest := line[4:]
		switch {
		case len(rest) == 0:
		case rest[0] == ':':
			rest = rest[1:]
			if len(rest) > 0 && rest[0] == ' ' {
				rest = rest[1:]
			}
		default:
			continue // a field such as "database:"
		}
		if ok {
			data = append(data, '\n')
		}
		data = append(data, rest...)
		ok = true
	}
	return data, ok
}

// activityReader records when bytes last arrived.
type activityReader struct {
	r    io.Reader
	last *atomic.Int64
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.last.Store(time.Now().UnixNano())
	}
	return n, err
}
