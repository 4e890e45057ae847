package tripswitch

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"time"
)

// DefaultBaseURL is the hosted Tripswitch API.
const DefaultBaseURL = "https://api.tripswitch.dev"

// Defaults of the client options.
const (
	DefaultBatchSize            = 500
	DefaultFlushInterval        = 15 * time.Second
	DefaultBufferCapacity       = 10_000
	DefaultMetadataSyncInterval = 30 * time.Second
	DefaultStateGracePeriod     = 30 * time.Second
	DefaultStreamIdleTimeout    = 45 * time.Second
	DefaultStartupTimeout       = 10 * time.Second
	DefaultMaxInFlightBatches   = 4
)

// An Option configures a Client. Options are applied in order; the last of
// two conflicting options wins, except WithHooks, which accumulates.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	projectKey        string
	ingestSecret      string
	failOpen          bool
	baseURL           string
	logger            *slog.Logger
	hooks             []Hooks
	traceID           func(context.Context) string
	globalTags        map[string]string
	metadataInterval  time.Duration
	httpClient        *http.Client
	batchSize         int
	maxInFlight       int
	flushInterval     time.Duration
	bufferCapacity    int
	gracePeriod       time.Duration
	streamIdleTimeout time.Duration
	insecureHTTP      bool
	startupTimeout    time.Duration
	startupTimeoutSet bool
	localFallback     *LocalPolicy

	// Test seams, set through export_test.go.
	now         func() time.Time
	fakeClock   bool
	randFloat   func() float64
	backoff     []time.Duration
	maxBreakers int
}

func defaultConfig() config {
	return config{
		failOpen:          true,
		baseURL:           DefaultBaseURL,
		metadataInterval:  DefaultMetadataSyncInterval,
		batchSize:         DefaultBatchSize,
		maxInFlight:       DefaultMaxInFlightBatches,
		flushInterval:     DefaultFlushInterval,
		bufferCapacity:    DefaultBufferCapacity,
		gracePeriod:       DefaultStateGracePeriod,
		streamIdleTimeout: DefaultStreamIdleTimeout,
		startupTimeout:    DefaultStartupTimeout,
		maxBreakers:       MaxBreakers,
		now:               time.Now,
		randFloat:         rand.Float64,
		backoff:           defaultBackoff,
	}
}

// defaultBackoff is the reconnect schedule of PROTOCOL.md §2; the last step
// repeats.
var defaultBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 30 * time.Second}

// WithProjectKey sets the project key ("eb_pk_…") used for the state stream,
// metadata and status. Without it the client does no gating sync: every
// breaker is treated as closed (or unavailable when fail-open is off).
func WithProjectKey(key string) Option {
	return optionFunc(func(c *config) { c.projectKey = key })
}

// WithIngestSecret sets the ingest secret (64 hex characters, optionally
// prefixed "ik_") that signs sample batches. Without it samples are sent
// unsigned, which the hosted service refuses for projects with signed
// ingest enabled.
func WithIngestSecret(secret string) Option {
	return optionFunc(func(c *config) { c.ingestSecret = secret })
}

// WithFailOpen sets whether gated calls run when the client has no fresh
// state (never synced, or the stream has been down longer than the grace
// period). Default true. With false such calls are rejected with
// ReasonUnavailable.
func WithFailOpen(failOpen bool) Option {
	return optionFunc(func(c *config) { c.failOpen = failOpen })
}

// WithBaseURL sets the API base URL. Default DefaultBaseURL.
func WithBaseURL(u string) Option {
	return optionFunc(func(c *config) { c.baseURL = u })
}

// WithLogger sets the logger. Default (and nil): slog.Default() as it is
// when NewClient runs, records at WARN and above only. Repeated problems
// are logged at most once a minute, with the number of repeats. To
// silence the client, pass slog.New(slog.DiscardHandler).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithStateChangeCallback calls fn(name, from, to) for every state change
// of a breaker the client already knew, in order, from one goroutine and
// never under a lock. It is shorthand for WithHooks(Hooks{StateChange: fn}).
func WithStateChangeCallback(fn func(name string, from, to State)) Option {
	return WithHooks(Hooks{StateChange: fn})
}

// WithTraceIDExtractor sets a function that returns the trace ID for a
// sample from the call's context, used when the call sets none. Default
// none.
func WithTraceIDExtractor(fn func(ctx context.Context) string) Option {
	return optionFunc(func(c *config) { c.traceID = fn })
}

// WithGlobalTags sets tags added to every sample; per-call tags win. The
// map is copied.
func WithGlobalTags(tags map[string]string) Option {
	tags = maps.Clone(tags)
	return optionFunc(func(c *config) { c.globalTags = tags })
}

// WithMetadataSyncInterval sets how often breaker and router metadata are
// refreshed. Default 30 s; zero or less disables metadata sync (selectors
// then fail with ErrMetadataUnavailable).
func WithMetadataSyncInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.metadataInterval = d })
}

// WithHTTPClient sets the HTTP client for every request. Default: a client
// on a clone of http.DefaultTransport. Short requests (ingest, metadata,
// status) are bounded by a 30 s timeout of their own; the state stream is
// watched for idleness instead (WithStreamIdleTimeout). A Timeout set on hc
// also ends the long-lived state stream, which then reconnects: prefer a
// client without one. Its transport should keep at least as many idle
// connections per host as batches may be in flight (WithMaxInFlightBatches);
// the default client's keeps that many plus two.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) { c.httpClient = hc })
}

// WithBatchSize sets the most samples sent in one request. Default 500.
func WithBatchSize(n int) Option {
	return optionFunc(func(c *config) { c.batchSize = n })
}

// WithMaxInFlightBatches sets the most batches being delivered at once,
// each in its own request. Default 4. While deliveries fail, a single
// batch probes the server until one succeeds. Every batch in flight is
// still counted in Stats.Buffered, which can exceed the buffer capacity by
// at most n batches.
func WithMaxInFlightBatches(n int) Option {
	return optionFunc(func(c *config) { c.maxInFlight = n })
}

// WithFlushInterval sets the longest a sample waits before it is sent.
// Default 15 s.
func WithFlushInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.flushInterval = d })
}

// WithBufferCapacity sets the most samples held in memory. When full, old
// samples are dropped (and counted in Stats): the buffer is split into a
// few parts that each drop their own oldest, and producers move on to the
// next part every 64 samples, so the samples kept are close to the newest
// (a part no producer has reached for a while may keep older ones).
// Default 10,000.
func WithBufferCapacity(n int) Option {
	return optionFunc(func(c *config) { c.bufferCapacity = n })
}

// WithStateGracePeriod sets how long after the state stream goes down the
// cached state still counts as fresh. Default 30 s.
func WithStateGracePeriod(d time.Duration) Option {
	return optionFunc(func(c *config) { c.gracePeriod = d })
}

// WithStreamIdleTimeout sets how long the state stream may deliver no byte
// (not even a keep-alive comment) before it is treated as dead and
// replaced. Default 45 s.
func WithStreamIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.streamIdleTimeout = d })
}

// WithInsecureHTTP allows sending the project key over plain http:// to a
// host that is not a loopback address. Without it NewClient refuses such a
// base URL. Loopback addresses never need it.
func WithInsecureHTTP() Option {
	return optionFunc(func(c *config) { c.insecureHTTP = true })
}

// WithHooks registers observers of the client's life. It may be given
// several times; every registered hook runs.
func WithHooks(h Hooks) Option {
	return optionFunc(func(c *config) { c.hooks = append(c.hooks, h) })
}

// WithStartupTimeout bounds how long NewClient waits for the project's
// breaker states while the server cannot be reached. NewClient returns when
// ctx ends or the startup timeout passes, whichever comes first. Without
// this option the timeout is DefaultStartupTimeout (10 s) and applies only
// when ctx has no deadline: a deadline on ctx then governs alone. Zero
// means do not wait (NewClient returns ErrNotSynced unless the state is
// already there); negative values are invalid. When the wait ends first,
// NewClient returns a working client and an error matching ErrNotSynced.
func WithStartupTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.startupTimeout, c.startupTimeoutSet = d, true })
}
