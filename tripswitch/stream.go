package tripswitch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/r3labs/sse/v2"
	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
)

// maxEventBytes bounds one state stream event.
const maxEventBytes = 1 << 20

// streamStats is the state stream's bookkeeping.
type streamStats struct {
	connected  atomic.Bool
	reconnects atomic.Uint64
	lastEvent  atomic.Int64               // unix nanos
	conn       atomic.Pointer[streamConn] // the current connection, nil while down

	synced   chan struct{} // closed at the first sync ever
	syncOnce sync.Once
	refused  chan struct{} // closed at the first permanent refusal
	refOnce  sync.Once
	refusal  error // set before refused is closed

	mu       sync.Mutex
	lastErr  error
	gen      uint64 // bumped when the stream goes down and at every sync
	down     bool   // lost since the last sync; the grace timer runs
	stale    *time.Timer
	frozen   bool
	overflow bool // the breaker limit was reached (logged once)
}

// streamConn is one connection of the state stream. It counts as synced
// after its first event, or once metadata says the project has no
// breakers (such a project sends no event).
type streamConn struct {
	fastSynced atomic.Bool
	synced     bool // guarded by streamStats.mu
	ended      bool // guarded by streamStats.mu
}

func (s *streamStats) init() {
	s.synced = make(chan struct{})
	s.refused = make(chan struct{})
}

func (s *streamStats) lastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// refuse records the first permanent refusal.
func (s *streamStats) refuse(err error) {
	s.refOnce.Do(func() {
		s.refusal = err
		close(s.refused)
	})
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
	status  int
	project string
	base    string
}

func (e *statusError) Error() string {
	switch e.status {
	case http.StatusUnauthorized:
		return "server answered 401 Unauthorized: the project key was not accepted (check WithProjectKey)"
	case http.StatusForbidden:
		return "server answered 403 Forbidden: the project key belongs to another project, not " + e.project + " (check the project ID and WithProjectKey)"
	case http.StatusNotFound:
		return "server answered 404 Not Found: no such project " + e.project + " at " + e.base
	}
	return fmt.Sprintf("server answered %d %s instead of an event stream", e.status, http.StatusText(e.status))
}

func (e *statusError) permanent() bool {
	return e.status == http.StatusUnauthorized || e.status == http.StatusForbidden || e.status == http.StatusNotFound
}

// permanent reports whether a failed connection will fail the same way on
// every retry: a refused key or project, an untrusted TLS certificate, a
// server that does not speak TLS on an https URL, a refused redirect.
func permanent(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.permanent()
	}
	var (
		verify    *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
		redirect  *redirectError
	)
	return errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &verify) || errors.As(err, &unknownCA) || errors.As(err, &host) ||
		errors.As(err, &invalid) || errors.As(err, &record) || errors.As(err, &redirect)
}

var errStreamIdle = errors.New("state stream idle: no data within the idle timeout")

// runStream keeps the state stream connected until ctx ends, reconnecting
// with the backoff of PROTOCOL.md §2 (with jitter), reset after a
// connection that synced.
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
		if permanent(err) {
			c.stream.refuse(err)
			c.logEvery(slog.LevelError, "stream-refused", "tripswitch: state stream refused", "project", c.projectID, "error", err)
		} else {
			c.logEvery(slog.LevelWarn, "stream-disconnected", "tripswitch: state stream disconnected", "project", c.projectID, "error", err)
		}
		if good {
			attempt = 0
		}
		steps := c.cfg.backoff
		d := steps[min(attempt, len(steps)-1)]
		d = httpx.Jitter(d, 0.8, 0.4, c.randFloat())
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

// connSynced records that conn delivered the project's state: its first
// event, or metadata saying there are no breakers. It does nothing for a
// connection that already synced or has ended.
func (c *Client) connSynced(conn *streamConn) {
	if conn == nil || conn.fastSynced.Load() {
		return
	}
	s := &c.stream
	s.mu.Lock()
	if conn.synced || conn.ended {
		s.mu.Unlock()
		return
	}
	conn.synced = true
	conn.fastSynced.Store(true)
	if !s.frozen {
		s.gen++
		s.down = false
		if s.stale != nil {
			s.stale.Stop()
		}
		c.fresh.Store(true)
	}
	s.mu.Unlock()
	if c.local != nil {
		c.local.leave(c) // the service's state gates again
	}
	s.syncOnce.Do(func() { close(s.synced) })
}

// endConn marks conn as ended, so that a late metadata answer cannot sync
// it.
func (c *Client) endConn(conn *streamConn) {
	c.stream.conn.CompareAndSwap(conn, nil)
	c.stream.mu.Lock()
	conn.ended = true
	c.stream.mu.Unlock()
}

// syncIfNoBreakers syncs the current connection when the project has no
// breakers: the stream then sends no event at all.
func (c *Client) syncIfNoBreakers(list []BreakerMeta) {
	if len(list) == 0 {
		c.connSynced(c.stream.conn.Load())
	}
}

// checkNoBreakers asks for the breaker list once for a new connection, and
// syncs it when the list is empty.
func (c *Client) checkNoBreakers(ctx context.Context, conn *streamConn) {
	var bs struct {
		Breakers []BreakerMeta `json:"breakers"`
	}
	if _, _, err := c.getMetadata(ctx, "/breakers/metadata", "", &bs); err != nil {
		if ctx.Err() == nil {
			c.logger.Debug("tripswitch: could not check for an empty project", "error", err)
		}
		return
	}
	if len(bs.Breakers) == 0 && c.stream.conn.Load() == conn {
		c.connSynced(conn)
	}
}

// streamOnce runs one connection; good reports whether it delivered an
// event.
func (c *Client) streamOnce(ctx context.Context) (good bool, err error) {
	var checks sync.WaitGroup // the connection's check for an empty project
	defer checks.Wait()       // after cancel: prompt
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
		return false, &statusError{status: resp.StatusCode, project: c.projectID, base: c.cfg.baseURL}
	}
	c.stream.connected.Store(true)
	conn := new(streamConn)
	c.stream.conn.Store(conn)
	defer func() { good = conn.fastSynced.Load() }() // set by events or by metadata
	defer c.endConn(conn)
	// A project without breakers sends no event. The metadata poller
	// syncs such a connection after its next answer; ask at once when it
	// is off, or when its last answer listed no breaker.
	if list := c.meta.breakers.Load(); (list == nil && c.cfg.metadataInterval <= 0) || (list != nil && len(*list) == 0) {
		checks.Add(1)
		go func() { defer checks.Done(); c.checkNoBreakers(ctx, conn) }()
	}
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
		if c.handleEvent(data) {
			c.connSynced(conn)
		}
	}
}

// handleEvent applies one event payload and reports whether it was valid.
func (c *Client) handleEvent(data []byte) bool {
	ev, st, err := decodeStateEvent(data)
	if err != nil {
		c.logEvery(slog.LevelWarn, "stream-malformed-event", "tripswitch: ignoring malformed state event", "error", err)
		return false
	}
	rate := 1.0
	switch st {
	case StateOpen:
		rate = 0
	case StateHalfOpen:
		if ev.AllowRate == nil {
			c.logEvery(slog.LevelWarn, "stream-half-open-without-rate", "tripswitch: half-open event without allow_rate; treating it as 0", "breaker", ev.Breaker)
			rate = 0
		} else {
			rate = *ev.AllowRate
		}
	}
	now := c.now()
	c.stream.lastEvent.Store(now.UnixNano())
	prev, known, added := c.states.apply(ev.Breaker, st, rate, now)
	if !added {
		c.breakerOverflow(ev.Breaker)
		return true
	}
	if known && prev != st {
		c.callbacks.enqueue(stateChange{name: ev.Breaker, from: prev, to: st})
	}
	return true
}

// breakerOverflow logs, once, that the stream named more breakers than the
// cache keeps.
func (c *Client) breakerOverflow(name string) {
	s := &c.stream
	s.mu.Lock()
	first := !s.overflow
	s.overflow = true
	s.mu.Unlock()
	if first {
		c.logger.Error("tripswitch: the state stream names more breakers than the client keeps; events for further breakers are ignored and those breakers count as closed",
			"project", c.projectID, "limit", c.states.limit, "breaker", name)
	}
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
