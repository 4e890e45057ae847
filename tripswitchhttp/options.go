package tripswitchhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// An Option configures a Transport or a Handler. Options that apply to
// only one of them say so and are ignored by the other.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Target names what guards one request: the breakers that gate it and the
// router its samples go to.
type Target struct {
	Breakers []string // none: the request is not gated
	Router   string   // empty: the request emits no samples
}

// Class is what a finished request says about the dependency (or, for a
// Handler, about the application's own endpoint).
type Class uint8

const (
	// Success reports the request with ok = true.
	Success Class = iota
	// Failure reports the request with ok = false.
	Failure
	// Skip reports nothing: the request says nothing about the dependency
	// (its caller cancelled it).
	Skip
)

// String returns "success", "failure" or "skip".
func (c Class) String() string {
	switch c {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Skip:
		return "skip"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// LatencyEnd is the moment a Transport's latency sample ends.
type LatencyEnd uint8

const (
	// BodyClose ends the latency when the caller closes the response body
	// (or at once, for an error or a response without a body): the whole
	// call, as the caller experiences it.
	BodyClose LatencyEnd = iota
	// Headers ends the latency when the response headers arrive.
	Headers
)

// DefaultClassifier is the default WithClassifier: an error is a Failure,
// unless the request's context was cancelled (the caller gave up: Skip);
// a status of 500 or above is a Failure; anything else is a Success. A
// deadline that expires (http.Client.Timeout, context.WithTimeout) is a
// Failure: the dependency was too slow.
func DefaultClassifier(r *http.Request, status int, err error) Class {
	if err != nil {
		if errors.Is(r.Context().Err(), context.Canceled) {
			return Skip
		}
		return Failure
	}
	if status >= 500 {
		return Failure
	}
	return Success
}

// ErrHandlerPanicked is the error a Handler's classifier receives when the
// wrapped handler panicked (the panic then goes on).
var ErrHandlerPanicked = errors.New("tripswitchhttp: handler panicked")

// DefaultRetryAfter is the default WithRetryAfter.
const DefaultRetryAfter = 5 * time.Second

// DefaultLatencyMetric is the default WithLatencyMetric.
const DefaultLatencyMetric = "latency"

type config struct {
	breakers      []string
	breakersSet   bool
	router        string
	routerSet     bool
	target        func(*http.Request) Target
	route         func(*http.Request) string
	callOpts      []tripswitch.CallOption
	latencyMetric string
	classify      func(*http.Request, int, error) Class
	latencyEnd    LatencyEnd
	fallback      func(*http.Request, error) (*http.Response, error)
	retryAfter    time.Duration
	reject        func(http.ResponseWriter, *http.Request, error)
}

func newConfig(opts []Option) config {
	c := config{
		latencyMetric: DefaultLatencyMetric,
		classify:      DefaultClassifier,
		retryAfter:    DefaultRetryAfter,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

func (c *config) validate(what string) error {
	if c.target != nil && (c.breakersSet || c.routerSet) {
		return fmt.Errorf("%w: %s: WithTarget and WithBreakers/WithRouter cannot be used together", tripswitch.ErrConflictingOptions, what)
	}
	if c.classify == nil {
		return fmt.Errorf("%w: %s: WithClassifier: nil function", tripswitch.ErrInvalidOption, what)
	}
	if c.retryAfter < 0 {
		return fmt.Errorf("%w: %s: WithRetryAfter: negative duration %v", tripswitch.ErrInvalidOption, what, c.retryAfter)
	}
	if c.latencyEnd > Headers {
		return fmt.Errorf("%w: %s: WithLatencyEnd: unknown value %d", tripswitch.ErrInvalidOption, what, c.latencyEnd)
	}
	return nil
}

// WithBreakers gates every request on the named breakers. Default: none,
// requests are not gated. Cannot be combined with WithTarget.
func WithBreakers(names ...string) Option {
	names = slices.Clone(names)
	return optionFunc(func(c *config) { c.breakers, c.breakersSet = names, true })
}

// WithRouter sends every request's samples to the router with this ID.
// Default: none, requests emit no samples. Cannot be combined with
// WithTarget.
func WithRouter(routerID string) Option {
	return optionFunc(func(c *config) { c.router, c.routerSet = routerID, true })
}

// WithTarget chooses the breakers and router per request, for example by
// r.URL.Host or by route. A gate is compiled once per distinct Target and
// route and reused; beyond 1024 distinct ones, further ones are compiled
// per request. fn must be safe for concurrent use. Default: the fixed
// WithBreakers and WithRouter.
func WithTarget(fn func(r *http.Request) Target) Option {
	return optionFunc(func(c *config) { c.target = fn })
}

// WithRoute names the route of a request, tagged "route" on its samples.
// It should return a template ("GET /users/{id}"), never a raw path, to
// keep the number of distinct tags small. An empty route adds no tag.
// Default: a Handler tags r.Pattern, the pattern http.ServeMux matched (a
// Handler wrapping an *http.ServeMux asks the mux for it); a Transport tags
// nothing.
func WithRoute(fn func(r *http.Request) string) Option {
	return optionFunc(func(c *config) { c.route = fn })
}

// WithCallOptions adds call options to every request: more metrics, tags,
// WithTraceID, WithIgnoreErrors and the like. Breakers and router are set
// with WithBreakers, WithRouter or WithTarget instead. Default: none.
func WithCallOptions(opts ...tripswitch.CallOption) Option {
	opts = slices.Clone(opts)
	return optionFunc(func(c *config) { c.callOpts = append(c.callOpts, opts...) })
}

// WithLatencyMetric names the metric that carries each request's latency
// in milliseconds; an empty name reports none. Default: "latency".
func WithLatencyMetric(name string) Option {
	return optionFunc(func(c *config) { c.latencyMetric = name })
}

// WithClassifier decides what a finished request reports. status is the
// response status (0 when there is none); err is the transport error (for
// a Transport, also an error reading the body before it was closed), or,
// for a Handler, ErrHandlerPanicked or the request context's error when
// the client went away. A panic in fn counts as Failure. Default:
// DefaultClassifier.
func WithClassifier(fn func(r *http.Request, status int, err error) Class) Option {
	return optionFunc(func(c *config) { c.classify = fn })
}

// WithLatencyEnd chooses when a Transport's latency ends. Default:
// BodyClose. Handler: ignored (a handler's latency ends when it returns).
func WithLatencyEnd(end LatencyEnd) Option {
	return optionFunc(func(c *config) { c.latencyEnd = end })
}

// WithFallback answers requests a breaker rejected: fn receives the
// request and the *tripswitch.BreakerError and returns what RoundTrip
// returns. Default: none, RoundTrip returns the error, which matches
// tripswitch.ErrOpen with errors.Is. Handler: ignored.
func WithFallback(fn func(r *http.Request, err error) (*http.Response, error)) Option {
	return optionFunc(func(c *config) { c.fallback = fn })
}

// WithRetryAfter sets the Retry-After header of a Handler's 503 answer to
// rejected requests, rounded up to whole seconds; 0 omits the header.
// Default: DefaultRetryAfter (5s). Transport: ignored.
func WithRetryAfter(d time.Duration) Option {
	return optionFunc(func(c *config) { c.retryAfter = d })
}

// WithRejectHandler answers a Handler's rejected requests instead of the
// default 503: fn receives the request and the rejection (a
// *tripswitch.BreakerError, or the error of a router selector). Default:
// 503 Service Unavailable with Retry-After for breaker rejections, 500
// for other errors. Transport: ignored.
func WithRejectHandler(fn func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return optionFunc(func(c *config) { c.reject = fn })
}

// classOf runs the classifier; a panic in it is a Failure.
func (c *config) classOf(r *http.Request, status int, err error) (class Class) {
	defer func() {
		if recover() != nil {
			class = Failure
		}
	}()
	return c.classify(r, status, err)
}
