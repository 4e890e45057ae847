package tripswitch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch/internal/wire"
)

const (
	// requestTimeout bounds every short request (ingest, metadata, status).
	requestTimeout = 30 * time.Second
	// maxResponseBytes bounds what is read of a response body.
	maxResponseBytes = 8 << 20
	// defaultCloseTimeout applies to Close when its ctx has no deadline.
	defaultCloseTimeout = 5 * time.Second
)

// Client is a Tripswitch runtime client for one project: it keeps breaker
// states in sync over the state stream, gates calls on them, and delivers
// samples in signed batches. A Client is safe for concurrent use; create one
// per project and Close it when done.
type Client struct {
	cfg       config
	projectID string
	base      string // base URL + "/v1/projects/{id}"
	http      *http.Client
	ownHTTP   bool // http was made by the client, which closes its idle connections
	logger    *slog.Logger
	secret    []byte

	failOpen   bool
	globalTags *wire.Tags
	traceIDFn  func(context.Context) string
	randFloat  func() float64
	onRejected []func(context.Context, *BreakerError)
	onState    []func(string, State, State)
	onFlush    []func(FlushResult)
	local      *localFallback // nil without WithLocalFallback
	calls      callCache      // compiled unprepared calls

	clock  clockRef
	states *stateCache
	names  nameLog
	meta   metadataCache
	pipe   *pipeline
	stream streamStats

	// fresh is true while the cached state may be trusted: the stream has
	// delivered an event and has not been down longer than the grace
	// period. Close freezes it to true (calls then use the last state).
	fresh atomic.Bool

	lastFlush    atomic.Int64 // unix nanos of the last delivered batch
	flushFails   atomic.Uint64
	flushReq     chan chan flushOutcome
	callbacks    *dispatcher
	cancel       context.CancelFunc // stops stream and metadata sync
	stopped      <-chan struct{}    // closed by cancel
	flushCancel  context.CancelFunc // aborts in-flight deliveries
	wg           sync.WaitGroup
	flusherDone  chan struct{}
	closeOnce    sync.Once
	closeDone    chan struct{} // closed when the first Close has returned
	closeErr     error
	closed       atomic.Bool
	stopFlushing chan struct{}

	logs            logLimiter
	lastDeliveryErr atomic.Pointer[error]
	flushHooks      hookRunner
}

// NewClient starts a client for projectID: state sync (with a project key),
// sample delivery and metadata sync.
//
// With a project key it waits for the project's breaker states. It returns
// at once with a nil client and an error for a configuration the server
// can never accept: an invalid option (ErrInvalidOption), an admin key
// given as the project key, a base URL ending in /v1, a key or project the
// server refuses (401, 403, 404), or a TLS certificate that does not
// verify. While the server cannot be reached (connection refused, DNS, 5xx,
// timeouts) it keeps trying until ctx ends or the startup timeout passes
// (WithStartupTimeout: by default 10 s when ctx has no deadline); it then
// returns a working client together with an error matching ErrNotSynced.
// That client gates calls by the fail-open rule (WithFailOpen) until the
// first sync, keeps connecting in the background, and must be closed;
// WaitSynced waits for the first sync later. A project without breakers
// counts as synced once the stream is connected and its metadata lists no
// breaker.
func NewClient(ctx context.Context, projectID string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	c, err := build(projectID, cfg)
	if err != nil {
		return nil, err
	}
	c.start()
	if cfg.projectKey == "" {
		c.logger.Warn("tripswitch: no project key (WithProjectKey): breaker states are not synced and every gated call runs",
			"project", projectID)
		return c, nil
	}
	wait := ctx
	if timeout, set := cfg.startupTimeout, cfg.startupTimeoutSet; set || !hasDeadline(ctx) {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeoutCause(ctx, timeout, errStartupTimeout)
		defer cancel()
	}
	select {
	case <-c.stream.synced:
		return c, nil
	case <-c.stream.refused:
		c.abort()
		return nil, fmt.Errorf("tripswitch: project %s: state stream: %w", projectID, c.stream.refusal)
	case <-wait.Done():
		select {
		case <-c.stream.synced:
			return c, nil
		case <-c.stream.refused:
			c.abort()
			return nil, fmt.Errorf("tripswitch: project %s: state stream: %w", projectID, c.stream.refusal)
		default:
		}
		return c, c.notSynced(context.Cause(wait))
	}
}

func hasDeadline(ctx context.Context) bool {
	_, ok := ctx.Deadline()
	return ok
}

var errStartupTimeout = errors.New("startup timeout")

// notSyncedError is NewClient's (and WaitSynced's) error when the wait for
// the first state sync ended first. It matches ErrNotSynced and the cause
// (context.DeadlineExceeded or context.Canceled for ctx).
type notSyncedError struct {
	project string
	cause   error
	timeout time.Duration
	last    error
}

func (e *notSyncedError) Error() string {
	var b strings.Builder
	b.WriteString("tripswitch: project ")
	b.WriteString(e.project)
	b.WriteString(": no breaker state received ")
	if e.cause == errStartupTimeout {
		fmt.Fprintf(&b, "within the startup timeout (%v)", e.timeout)
	} else {
		fmt.Fprintf(&b, "before %v", e.cause)
	}
	b.WriteString("; the client keeps connecting in the background")
	if e.last != nil {
		b.WriteString(" (last stream error: ")
		b.WriteString(e.last.Error())
		b.WriteString(")")
	}
	return b.String()
}

func (e *notSyncedError) Unwrap() []error {
	if e.cause == errStartupTimeout {
		return []error{ErrNotSynced, context.DeadlineExceeded}
	}
	return []error{ErrNotSynced, e.cause}
}

func (c *Client) notSynced(cause error) error {
	return &notSyncedError{project: c.projectID, cause: cause, timeout: c.cfg.startupTimeout, last: c.stream.lastError()}
}

// WaitSynced waits until the client has received the project's breaker
// states for the first time, for a client that NewClient returned with
// ErrNotSynced. It returns nil once synced (at once if it already was),
// the server's refusal when it refused the stream (a 401, 403 or 404, or a
// TLS certificate error), ErrClosed after Close, or an error matching
// ErrNotSynced and ctx's error when ctx ends first. Without a project key
// there is nothing to sync, and WaitSynced returns nil.
func (c *Client) WaitSynced(ctx context.Context) error {
	if c.cfg.projectKey == "" {
		return nil
	}
	select {
	case <-c.stream.synced:
		return nil
	default:
	}
	select {
	case <-c.stream.synced:
		return nil
	case <-c.stream.refused:
		return fmt.Errorf("tripswitch: project %s: state stream: %w", c.projectID, c.stream.refusal)
	case <-c.stopped:
		return ErrClosed
	case <-ctx.Done():
		return c.notSynced(ctx.Err())
	}
}

func build(projectID string, cfg config) (*Client, error) {
	if strings.TrimSpace(projectID) == "" {
		return nil, optionError("NewClient", "empty project ID")
	}
	if strings.ContainsAny(projectID, "/?#% ") {
		return nil, optionError("NewClient", "project ID %q contains characters not allowed in a path segment", projectID)
	}
	u, err := url.Parse(cfg.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, optionError("WithBaseURL", "%q is not an absolute http(s) URL", cfg.baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, optionError("WithBaseURL", "base URL must not carry credentials, a query or a fragment")
	}
	if p := strings.TrimRight(u.Path, "/"); strings.HasSuffix(p, "/v1") {
		fixed := *u
		fixed.Path = strings.TrimSuffix(p, "/v1")
		return nil, optionError("WithBaseURL", "project %s: base URL %q ends in /v1, and the client adds /v1 itself: requests would go to %s/v1/projects/%s and find no such project; use %q",
			projectID, cfg.baseURL, strings.TrimRight(cfg.baseURL, "/"), projectID, fixed.String())
	}
	if strings.HasPrefix(cfg.projectKey, "eb_admin_") {
		return nil, optionError("WithProjectKey", "project %s: the key given is an admin key (eb_admin_…), which the server refuses on the state stream; use a project key (eb_pk_…) of project %s",
			projectID, projectID)
	}
	if cfg.startupTimeout < 0 {
		return nil, optionError("WithStartupTimeout", "must not be negative, got %v", cfg.startupTimeout)
	}
	if u.Scheme == "http" && cfg.projectKey != "" && !cfg.insecureHTTP && !isLoopback(u.Hostname()) {
		return nil, optionError("WithBaseURL", "refusing to send the project key over plain http to %s (use https, a loopback address, or WithInsecureHTTP)", u.Host)
	}
	var secret []byte
	if cfg.ingestSecret != "" {
		secret, err = wire.ParseSecret(cfg.ingestSecret)
		if err != nil {
			return nil, optionError("WithIngestSecret", "%v", err)
		}
	}
	switch {
	case cfg.batchSize <= 0:
		return nil, optionError("WithBatchSize", "must be positive, got %d", cfg.batchSize)
	case cfg.bufferCapacity <= 0:
		return nil, optionError("WithBufferCapacity", "must be positive, got %d", cfg.bufferCapacity)
	case cfg.flushInterval <= 0:
		return nil, optionError("WithFlushInterval", "must be positive, got %v", cfg.flushInterval)
	case cfg.gracePeriod < 0:
		return nil, optionError("WithStateGracePeriod", "must not be negative, got %v", cfg.gracePeriod)
	case cfg.streamIdleTimeout <= 0:
		return nil, optionError("WithStreamIdleTimeout", "must be positive, got %v", cfg.streamIdleTimeout)
	case !cfg.failOpen && cfg.projectKey == "":
		return nil, optionError("WithFailOpen", "fail-closed needs WithProjectKey: without a state stream every gated call would be rejected")
	}
	for k := range cfg.globalTags {
		if k == "" {
			return nil, optionError("WithGlobalTags", "empty tag key")
		}
	}
	local, err := newLocalFallback(&cfg)
	if err != nil {
		return nil, err
	}
	hc := cfg.httpClient
	ownHTTP := hc == nil
	if ownHTTP {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	} else {
		cp := *hc // the caller's client keeps its own redirect policy
		hc = &cp
	}
	hc.CheckRedirect = sameOrigin(u, hc.CheckRedirect)
	logger := cfg.logger
	if logger == nil {
		logger = defaultLogger()
	}
	c := &Client{
		cfg:          cfg,
		projectID:    projectID,
		base:         strings.TrimRight(cfg.baseURL, "/") + "/v1/projects/" + projectID,
		http:         hc,
		ownHTTP:      ownHTTP,
		logger:       logger,
		secret:       secret,
		failOpen:     cfg.failOpen,
		globalTags:   wire.NewTags(cfg.globalTags),
		traceIDFn:    cfg.traceID,
		randFloat:    cfg.randFloat,
		states:       newStateCache(cfg.maxBreakers),
		local:        local,
		pipe:         newPipeline(cfg.bufferCapacity, cfg.batchSize),
		flushReq:     make(chan chan flushOutcome),
		flusherDone:  make(chan struct{}),
		stopFlushing: make(chan struct{}),
	}
	c.stream.init()
	c.reanchor()
	for _, h := range cfg.hooks {
		if h.Rejected != nil {
			c.onRejected = append(c.onRejected, h.Rejected)
		}
		if h.StateChange != nil {
			c.onState = append(c.onState, h.StateChange)
		}
		if h.Flush != nil {
			c.onFlush = append(c.onFlush, h.Flush)
		}
	}
	return c, nil
}

// redirectError is a redirect the client refused.
type redirectError struct {
	from, to string // origins
}

func (e *redirectError) Error() string {
	return "refusing a redirect from " + e.from + " to " + e.to + ": it leaves the configured base URL's origin"
}

// sameOrigin refuses redirects that leave base's scheme, host and port,
// which would carry the project key elsewhere (or in clear text), then
// defers to the caller's policy (next), or to the usual limit of 10.
func sameOrigin(base *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	want := origin(base)
	return func(req *http.Request, via []*http.Request) error {
		if got := origin(req.URL); got != want {
			return &redirectError{from: want, to: got}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// origin returns scheme://host:port, lower-cased, with the default port.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Client) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.stopped = ctx.Done()
	fctx, fcancel := context.WithCancel(context.Background())
	c.flushCancel = fcancel
	c.callbacks = newDispatcher(c)
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.callbacks.run() }()
	go func() { defer close(c.flusherDone); c.runFlusher(fctx) }()
	if c.cfg.projectKey != "" {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.runStream(ctx) }()
		if c.cfg.metadataInterval > 0 {
			c.wg.Add(1)
			go func() { defer c.wg.Done(); c.syncMetadata(ctx) }()
		}
	}
}

// abort stops everything without flushing (NewClient failed).
func (c *Client) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// Close stops intake, flushes every buffered sample, and stops every
// goroutine of the client. It returns by ctx's deadline whatever the server
// does (5 s when ctx has none); samples it could not deliver by then are
// counted as dropped and reported in the error, as are samples the server
// refused (see DeliveryError). A hook still running at the deadline is
// left to finish on its own, and the error says so.
//
// Close is idempotent: later calls wait for the first one (or for their own
// ctx, whichever ends first) and return its result. After Close, gated calls
// use the last known breaker states, and new samples are counted as
// dropped.
func (c *Client) Close(ctx context.Context) error {
	first := false
	c.closeOnce.Do(func() {
		c.closeDone = make(chan struct{})
		first = true
	})
	if first {
		c.closeErr = c.close(ctx)
		close(c.closeDone)
		return c.closeErr
	}
	select {
	case <-c.closeDone:
		return c.closeErr
	case <-ctx.Done():
		return fmt.Errorf("tripswitch: close: the first Close is still running: %w", ctx.Err())
	}
}

func (c *Client) close(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCloseTimeout)
		defer cancel()
	}
	c.closed.Store(true)
	c.cancel() // stream and metadata sync
	c.stream.freeze()
	c.fresh.Store(true)

	// Deliver what is buffered, retrying until the deadline, then stop the
	// flusher.
	c.pipe.close(false)
	var refused []error
	var retryErr error
	for attempt := 1; ; attempt++ {
		o, err := c.flush(ctx)
		refused = append(refused, o.refused...)
		retryErr = errors.Join(o.retry, err)
		if c.pipe.buffered() == 0 || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(retryDelay(attempt, c.randFloat))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	close(c.stopFlushing)
	select {
	case <-c.flusherDone:
	case <-ctx.Done():
	}
	c.flushCancel() // the flusher's requests end now
	c.callbacks.stop()
	err := errors.Join(refused...)
	if hook := c.waitGoroutines(ctx); hook != "" {
		err = errors.Join(err, fmt.Errorf("tripswitch: close: a %s is still running: %w", hook, ctx.Err()))
	}
	if n := c.pipe.buffered(); n > 0 {
		c.pipe.close(true)
		cause := retryErr
		if ctx.Err() != nil && !errors.Is(cause, ctx.Err()) {
			cause = errors.Join(cause, ctx.Err())
		}
		err = errors.Join(fmt.Errorf("tripswitch: close: %d samples not delivered and dropped: %w", n, cause), err)
	}
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
	return err
}

// waitGoroutines waits for every goroutine of the client. They stop
// promptly once cancelled, except while running a hook: at ctx's deadline
// it stops calling hooks, and returns the name of one still running
// instead of waiting for it.
func (c *Client) waitGoroutines(ctx context.Context) (runningHook string) {
	done := make(chan struct{})
	go func() { c.wg.Wait(); <-c.flusherDone; close(done) }()
	select {
	case <-done:
		return ""
	case <-ctx.Done():
	}
	flushRunning := c.flushHooks.abandon()
	stateRunning := c.callbacks.hooks.abandon()
	switch {
	case flushRunning:
		return "Flush hook"
	case stateRunning:
		return "StateChange hook"
	}
	<-done // no hook runs any more: prompt
	return ""
}

// Flush delivers every sample buffered now, and returns when they are
// delivered, when delivery failed (the samples stay queued for retry), or
// when ctx ends. It also returns a *DeliveryError for each kind of
// refusal by the server since the previous Flush (joined), whose samples
// were dropped.
func (c *Client) Flush(ctx context.Context) error {
	o, err := c.flush(ctx)
	return errors.Join(o.err(), err)
}

func (c *Client) flush(ctx context.Context) (flushOutcome, error) {
	done := make(chan flushOutcome, 1)
	select {
	case c.flushReq <- done:
	case <-c.flusherDone:
		return flushOutcome{}, ErrClosed
	case <-ctx.Done():
		return flushOutcome{}, ctx.Err()
	}
	select {
	case o := <-done:
		return o, nil
	case <-ctx.Done():
		return flushOutcome{}, ctx.Err()
	}
}

// Stats is a snapshot of the client's health. Produced = Delivered +
// Dropped + Buffered holds in every snapshot.
type Stats struct {
	Produced  uint64 // samples created by calls and Report
	Delivered uint64 // samples the server accepted
	Dropped   uint64 // samples given up: buffer overflow, refused by the server, beyond the ingest limits, after Close
	Invalid   uint64 // of Dropped: samples of calls beyond the ingest limits (see Sample), never sent
	// Buffered is the samples waiting for delivery, including a batch in
	// flight. It exceeds BufferCapacity by at most one batch: samples of
	// the batch in flight that newer ones have replaced in the buffer.
	Buffered            int
	BufferCapacity      int       // the most samples held
	StreamConnected     bool      // the state stream is connected
	StreamReconnects    uint64    // state stream connections after the first
	FlushFailures       uint64    // failed delivery attempts
	LastSuccessfulFlush time.Time // zero before the first delivery
	LastStreamEvent     time.Time // zero before the first state event
	CachedBreakers      int       // breakers in the state cache
	// LastDeliveryError is the error of the latest failed delivery
	// attempt (often a *DeliveryError); nil before the first failure.
	// Compare LastSuccessfulFlush to tell whether delivery recovered.
	LastDeliveryError error
	// StateChangesCoalesced counts state changes merged into a later one
	// because the StateChange hook fell behind (see Hooks.StateChange).
	StateChangesCoalesced uint64
}

// Stats returns a snapshot of the client's health.
func (c *Client) Stats() Stats {
	pc := c.pipe.counts()
	s := Stats{
		Produced:         pc.produced,
		Delivered:        pc.delivered,
		Dropped:          pc.dropped,
		Invalid:          pc.invalid,
		Buffered:         pc.buffered,
		BufferCapacity:   c.cfg.bufferCapacity,
		StreamConnected:  c.stream.connected.Load(),
		StreamReconnects: c.stream.reconnects.Load(),
		FlushFailures:    c.flushFails.Load(),
		CachedBreakers:   c.states.known(),
	}
	if n := c.lastFlush.Load(); n != 0 {
		s.LastSuccessfulFlush = time.Unix(0, n)
	}
	if n := c.stream.lastEvent.Load(); n != 0 {
		s.LastStreamEvent = time.Unix(0, n)
	}
	if err := c.lastDeliveryErr.Load(); err != nil {
		s.LastDeliveryError = *err
	}
	if c.callbacks != nil {
		s.StateChangesCoalesced = c.callbacks.coalesced.Load()
	}
	return s
}

// State returns the cached state of the named breaker; ok is false for a
// breaker the client has not heard of (which gating treats as closed).
func (c *Client) State(name string) (status BreakerStatus, ok bool) {
	return c.states.status(name)
}

// States returns a copy of the state cache.
func (c *Client) States() map[string]BreakerStatus {
	return c.states.all()
}

// ProjectID returns the client's project.
func (c *Client) ProjectID() string { return c.projectID }

func (c *Client) now() time.Time { return c.cfg.now() }

func (c *Client) extractTraceID(ctx context.Context) (id string) {
	c.safely("trace ID extractor", func() { id = c.traceIDFn(ctx) })
	return id
}

// safely runs fn, recovering and logging a panic (at most once a minute
// for each what).
func (c *Client) safely(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			c.logEvery(slog.LevelError, "panic:"+what, "tripswitch: recovered panic", "in", what, "panic", fmt.Sprint(r))
		}
	}()
	fn()
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.cfg.projectKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.projectKey)
	}
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

const userAgent = "tripswitch-go/" + Version

// Version is the version of this module.
const Version = "0.1.0"

// transportError describes a failed request without its URL's secrets (the
// URL holds none, but errors from net/http repeat it; keep them short).
func transportError(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

func drainClose(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	_ = r.Close()
}
