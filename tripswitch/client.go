package tripswitch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
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

	lastFlush  atomic.Int64 // unix nanos of the last delivered batch
	flushFails atomic.Uint64

	// The client's goroutines, each started by start and stopped by Close
	// in this order: state stream and metadata sync (nil without a project
	// key), the flusher, then the state-change dispatcher.
	streamer  *worker
	metaSync  *worker
	flusher   *worker
	callbacks *dispatcher
	flushReq  chan chan flushOutcome // Flush calls, served by the flusher

	closed    atomic.Bool // Close has begun: new samples are dropped
	closeOnce sync.Once
	closeDone chan struct{} // closed when the first Close has returned
	closeErr  error

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
	case <-c.streamer.done:
		return ErrClosed
	case <-ctx.Done():
		return c.notSynced(ctx.Err())
	}
}

func build(projectID string, cfg config) (*Client, error) {
	base, secret, err := validate(projectID, cfg)
	if err != nil {
		return nil, err
	}
	local, err := newLocalFallback(&cfg)
	if err != nil {
		return nil, err
	}
	hc := cfg.httpClient
	ownHTTP := hc == nil
	if ownHTTP {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.maxInFlight + 2 // the batches in flight, metadata and status
		hc = &http.Client{Transport: t}
	} else {
		cp := *hc // the caller's client keeps its own redirect policy
		hc = &cp
	}
	hc.CheckRedirect = sameOrigin(base, hc.CheckRedirect)
	logger := cfg.logger
	if logger == nil {
		logger = defaultLogger()
	}
	c := &Client{
		cfg:        cfg,
		projectID:  projectID,
		base:       strings.TrimRight(cfg.baseURL, "/") + "/v1/projects/" + projectID,
		http:       hc,
		ownHTTP:    ownHTTP,
		logger:     logger,
		secret:     secret,
		failOpen:   cfg.failOpen,
		globalTags: wire.NewTags(cfg.globalTags),
		traceIDFn:  cfg.traceID,
		randFloat:  cfg.randFloat,
		states:     newStateCache(cfg.maxBreakers),
		local:      local,
		pipe:       newPipeline(cfg.bufferCapacity, cfg.batchSize),
		flushReq:   make(chan chan flushOutcome),
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

// maxInFlightLimit bounds WithMaxInFlightBatches.
const maxInFlightLimit = 64

// validate checks the project ID and the options, and returns the parsed
// base URL and ingest secret.
func validate(projectID string, cfg config) (base *url.URL, secret []byte, err error) {
	if strings.TrimSpace(projectID) == "" {
		return nil, nil, optionError("NewClient", "empty project ID")
	}
	if strings.ContainsAny(projectID, "/?#% ") {
		return nil, nil, optionError("NewClient", "project ID %q contains characters not allowed in a path segment", projectID)
	}
	u, err := httpx.ParseBaseURL(cfg.baseURL)
	if err != nil {
		return nil, nil, optionError("WithBaseURL", "%v", err)
	}
	if p := strings.TrimRight(u.Path, "/"); strings.HasSuffix(p, "/v1") {
		fixed := *u
		fixed.Path = strings.TrimSuffix(p, "/v1")
		return nil, nil, optionError("WithBaseURL", "project %s: base URL %q ends in /v1, and the client adds /v1 itself: requests would go to %s/v1/projects/%s and find no such project; use %q",
			projectID, cfg.baseURL, strings.TrimRight(cfg.baseURL, "/"), projectID, fixed.String())
	}
	if strings.HasPrefix(cfg.projectKey, "eb_admin_") {
		return nil, nil, optionError("WithProjectKey", "project %s: the key given is an admin key (eb_admin_…), which the server refuses on the state stream; use a project key (eb_pk_…) of project %s",
			projectID, projectID)
	}
	if cfg.startupTimeout < 0 {
		return nil, nil, optionError("WithStartupTimeout", "must not be negative, got %v", cfg.startupTimeout)
	}
	if cfg.projectKey != "" && !cfg.insecureHTTP && httpx.PlainHTTPToRemote(u) {
		return nil, nil, optionError("WithBaseURL", "refusing to send the project key over plain http to %s (use https, a loopback address, or WithInsecureHTTP)", u.Host)
	}
	if cfg.ingestSecret != "" {
		secret, err = wire.ParseSecret(cfg.ingestSecret)
		if err != nil {
			return nil, nil, optionError("WithIngestSecret", "%v", err)
		}
	}
	switch {
	case cfg.batchSize <= 0:
		return nil, nil, optionError("WithBatchSize", "must be positive, got %d", cfg.batchSize)
	case cfg.maxInFlight <= 0 || cfg.maxInFlight > maxInFlightLimit:
		return nil, nil, optionError("WithMaxInFlightBatches", "must be between 1 and %d, got %d", maxInFlightLimit, cfg.maxInFlight)
	case cfg.bufferCapacity <= 0:
		return nil, nil, optionError("WithBufferCapacity", "must be positive, got %d", cfg.bufferCapacity)
	case cfg.flushInterval <= 0:
		return nil, nil, optionError("WithFlushInterval", "must be positive, got %v", cfg.flushInterval)
	case cfg.gracePeriod < 0:
		return nil, nil, optionError("WithStateGracePeriod", "must not be negative, got %v", cfg.gracePeriod)
	case cfg.streamIdleTimeout <= 0:
		return nil, nil, optionError("WithStreamIdleTimeout", "must be positive, got %v", cfg.streamIdleTimeout)
	case !cfg.failOpen && cfg.projectKey == "":
		return nil, nil, optionError("WithFailOpen", "fail-closed needs WithProjectKey: without a state stream every gated call would be rejected")
	}
	if p := wire.NewTags(cfg.globalTags).Problem(); p != "" {
		return nil, nil, optionError("WithGlobalTags", "%s", p)
	}
	return u, secret, nil
}

// start starts the client's goroutines; Close stops them in the reverse
// order.
func (c *Client) start() {
	c.callbacks = newDispatcher(c)
	c.callbacks.worker = startWorker(c.callbacks.run)
	c.flusher = startWorker(c.runFlusher)
	if c.cfg.projectKey != "" {
		c.streamer = startWorker(c.runStream)
		if c.cfg.metadataInterval > 0 {
			c.metaSync = startWorker(c.syncMetadata)
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
	// 1. Stop intake and state sync; calls use the last known states.
	c.closed.Store(true)
	c.pipe.close(false)
	c.streamer.stop()
	c.metaSync.stop()
	c.stream.freeze()
	c.fresh.Store(true)

	// 2. Deliver what is buffered, retrying until the deadline.
	refused, retryErr := c.drain(ctx)

	// 3. Stop the flusher (requests still in flight end now), then the
	// dispatcher once it has delivered the queued state changes.
	err := errors.Join(refused...)
	if hook := c.stopWorkers(ctx); hook != "" {
		err = errors.Join(err, fmt.Errorf("tripswitch: close: a %s is still running: %w", hook, ctx.Err()))
	}

	// 4. Count what is left as dropped.
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

// drain flushes until the buffer is empty or ctx ends, and returns the
// refusals met and the last retryable failure.
func (c *Client) drain(ctx context.Context) (refused []error, retryErr error) {
	for attempt := 1; ; attempt++ {
		o, err := c.flush(ctx)
		refused = append(refused, o.refused...)
		retryErr = errors.Join(o.retry, err)
		if c.pipe.buffered() == 0 || ctx.Err() != nil {
			return refused, retryErr
		}
		t := time.NewTimer(retryDelay(attempt, c.randFloat()))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// stopWorkers stops the flusher and the dispatcher and waits for every
// goroutine, in the order of start's comment. They return promptly once
// stopped, except while running a hook: at ctx's deadline it stops calling
// hooks, and returns the name of one still running instead of waiting for
// it.
func (c *Client) stopWorkers(ctx context.Context) (runningHook string) {
	c.flusher.stop()
	if c.streamer.wait(ctx) && c.metaSync.wait(ctx) && c.flusher.wait(ctx) {
		c.callbacks.stop() // nothing queues state changes any more
		if c.callbacks.wait(ctx) {
			return ""
		}
	}
	c.callbacks.stop()
	flushRunning := c.flushHooks.abandon()
	stateRunning := c.callbacks.hooks.abandon()
	switch {
	case flushRunning:
		return "Flush hook"
	case stateRunning:
		return "StateChange hook"
	}
	// No hook runs any more: every goroutine returns promptly.
	for _, w := range []*worker{c.streamer, c.metaSync, c.flusher, c.callbacks.worker} {
		w.wait(context.Background())
	}
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
	case <-c.flusher.done:
		return flushOutcome{}, ErrClosed
	case <-ctx.Done():
		return flushOutcome{}, ctx.Err()
	}
	select {
	case o := <-done:
		return o, nil
	case <-c.flusher.done: // Close stopped it before the buffer emptied
		select {
		case o := <-done:
			return o, nil
		default:
			return flushOutcome{}, ErrClosed
		}
	case <-ctx.Done():
		return flushOutcome{}, ctx.Err()
	}
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

// worker is one goroutine of the client, with its one way to stop it and
// to wait for it.
type worker struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
}

// startWorker runs run on a new goroutine until stop cancels its ctx.
func startWorker(run func(ctx context.Context)) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		run(ctx)
	}()
	return w
}

// stop asks the goroutine to return; a nil worker (not started) has
// nothing to stop.
func (w *worker) stop() {
	if w != nil {
		w.cancel()
	}
}

// wait waits for the goroutine to return, and reports whether it did
// before ctx ended.
func (w *worker) wait(ctx context.Context) bool {
	if w == nil {
		return true
	}
	select {
	case <-w.done:
		return true
	case <-ctx.Done():
		return false
	}
}
