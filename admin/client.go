package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
	"github.com/tripswitch-otel/tripswitch-go/internal/version"
)

// DefaultBaseURL is the management API endpoint used unless [WithBaseURL] is given.
const DefaultBaseURL = "https://api.tripswitch.dev"

const (
	userAgent = "tripswitch-go-admin/" + version.Version
	// defaultHTTPTimeout bounds one HTTP exchange of the default *http.Client.
	defaultHTTPTimeout = 30 * time.Second
	// maxResponseBody bounds how much of a successful response is read.
	maxResponseBody = 32 << 20
	// maxErrorBody bounds how much of an error response is read.
	maxErrorBody = 64 << 10
)

// Client calls the Tripswitch management API with an admin key.
//
// A Client is safe for concurrent use by multiple goroutines. It starts no
// goroutines of its own and needs no closing; idle connections belong to the
// *http.Client it uses.
type Client struct {
	key       string
	baseURL   string // scheme://host[/prefix], without a trailing slash
	hc        *http.Client
	logger    *slog.Logger
	userAgent string
	retry     RetryPolicy
	autoIdem  bool

	// Injected for tests; never nil after NewClient.
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	jitter     func() float64
	maxBody    int64
	maxErrBody int64
}

// Option configures a [Client] built by [NewClient].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	baseURL      string
	hc           *http.Client
	logger       *slog.Logger
	uaSuffix     string
	retry        RetryPolicy
	autoIdem     bool
	insecureHTTP bool
	errs         []error
}

// WithBaseURL sets the API endpoint, e.g. "http://127.0.0.1:8080" for a local
// server. A path prefix is kept; a trailing slash is ignored. Default:
// [DefaultBaseURL].
//
// Plain http is accepted only for loopback hosts unless [WithInsecureHTTP] is
// also given, so that the admin key never crosses a network unencrypted by
// accident.
func WithBaseURL(u string) Option {
	return optionFunc(func(c *config) { c.baseURL = u })
}

// WithHTTPClient sets the *http.Client used for every request. The client is
// copied, not modified. Default: a client with a 30 s timeout on the default
// transport.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) {
		if hc == nil {
			c.errs = append(c.errs, optionError("WithHTTPClient", "client is nil"))
			return
		}
		c.hc = hc
	})
}

// WithLogger sets the logger for request and retry records (debug and info
// levels). Records never contain credentials. Default: records are discarded.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithUserAgentSuffix appends s to the User-Agent header, e.g.
// "deploy-pipeline/2.1". Default: no suffix.
func WithUserAgentSuffix(s string) Option {
	return optionFunc(func(c *config) {
		if strings.ContainsAny(s, "\r\n") {
			c.errs = append(c.errs, optionError("WithUserAgentSuffix", "suffix contains a line break"))
			return
		}
		c.uaSuffix = strings.TrimSpace(s)
	})
}

// WithRetryPolicy sets how failed requests are retried. Zero fields of p take
// the defaults of [DefaultRetryPolicy]; MaxAttempts 1 disables retries.
// Default: [DefaultRetryPolicy].
func WithRetryPolicy(p RetryPolicy) Option {
	return optionFunc(func(c *config) {
		if err := p.validate(); err != nil {
			c.errs = append(c.errs, err)
			return
		}
		c.retry = p.withDefaults()
	})
}

// WithoutRetries makes every call a single attempt. Equivalent to
// WithRetryPolicy(RetryPolicy{MaxAttempts: 1}).
func WithoutRetries() Option {
	return WithRetryPolicy(RetryPolicy{MaxAttempts: 1})
}

// WithAutoIdempotencyKeys controls whether the client adds a random
// Idempotency-Key header to every POST that has none from
// [WithIdempotencyKey]. Such POSTs may be retried; without a key a POST is
// never retried. Default: enabled.
func WithAutoIdempotencyKeys(enabled bool) Option {
	return optionFunc(func(c *config) { c.autoIdem = enabled })
}

// WithInsecureHTTP allows a plain http base URL on a non-loopback host. The
// admin key is then sent unencrypted. Default: refused.
func WithInsecureHTTP() Option {
	return optionFunc(func(c *config) { c.insecureHTTP = true })
}

// NewClient returns a client that authenticates with apiKey, an admin key
// ("eb_admin_…"). It fails when the key is empty or contains whitespace, when
// the base URL is not an absolute http(s) URL, or when an option is invalid;
// every such error matches [ErrInvalidOption].
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	if apiKey == "" {
		return nil, optionError("NewClient", "API key is empty (an admin key starts with \"eb_admin_\")")
	}
	if strings.ContainsFunc(apiKey, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, optionError("NewClient", "API key contains whitespace or control characters")
	}
	cfg := config{
		baseURL:  DefaultBaseURL,
		retry:    DefaultRetryPolicy(),
		autoIdem: true,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if len(cfg.errs) > 0 {
		return nil, errors.Join(cfg.errs...)
	}
	base, err := normalizeBaseURL(cfg.baseURL, cfg.insecureHTTP)
	if err != nil {
		return nil, err
	}
	var hc http.Client
	if cfg.hc != nil {
		hc = *cfg.hc
	} else {
		hc = http.Client{Timeout: defaultHTTPTimeout}
	}
	hc.CheckRedirect = guardRedirect(hc.CheckRedirect, cfg.insecureHTTP)
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ua := userAgent
	if cfg.uaSuffix != "" {
		ua += " " + cfg.uaSuffix
	}
	return &Client{
		key:        apiKey,
		baseURL:    base,
		hc:         &hc,
		logger:     logger,
		userAgent:  ua,
		retry:      cfg.retry,
		autoIdem:   cfg.autoIdem,
		now:        time.Now,
		sleep:      sleepContext,
		jitter:     rand.Float64,
		maxBody:    maxResponseBody,
		maxErrBody: maxErrorBody,
	}, nil
}

// BaseURL returns the endpoint the client sends requests to.
func (c *Client) BaseURL() string { return c.baseURL }

// String describes the client without its key.
func (c *Client) String() string { return "admin.Client(" + c.baseURL + ")" }

// GoString describes the client without its key.
func (c *Client) GoString() string { return c.String() }

// Ptr returns a pointer to v; use it for the optional fields of update inputs,
// e.g. UpdateBreakerInput{Threshold: admin.Ptr(0.0)}.
func Ptr[T any](v T) *T { return &v }

// normalizeBaseURL checks the base URL and returns it without a trailing
// slash.
func normalizeBaseURL(raw string, insecure bool) (string, error) {
	u, err := httpx.ParseBaseURL(strings.TrimSpace(raw))
	if err != nil {
		return "", optionError("WithBaseURL", "%v", err)
	}
	if !insecure && httpx.PlainHTTPToRemote(u) {
		return "", optionError("WithBaseURL", "refusing to send the admin key over plain http to %q; use https, a loopback host, or WithInsecureHTTP", u.Host)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// optionError reports an invalid argument of NewClient or an invalid option;
// it matches [ErrInvalidOption].
func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

// guardRedirect refuses redirects to plain http on a non-loopback host (unless
// insecure), then defers to the caller's policy.
func guardRedirect(next func(*http.Request, []*http.Request) error, insecure bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !insecure && httpx.PlainHTTPToRemote(req.URL) {
			return fmt.Errorf("admin: refusing redirect to plain http host %q", req.URL.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("admin: stopped after 10 redirects")
		}
		return nil
	}
}
