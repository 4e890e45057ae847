package tripswitchgrpc

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// An Option configures the Interceptors.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Target names what guards one call: the breakers that gate it and the
// router its samples go to.
type Target struct {
	Breakers []string // none: the call is not gated
	Router   string   // empty: the call emits no samples
}

// DefaultFailureCodes is the default WithFailureCodes: the codes that say
// the dependency (or, on the server, the service itself) is in trouble.
// Canceled, InvalidArgument, NotFound and the other codes about the
// request count as successes.
var DefaultFailureCodes = []codes.Code{
	codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Unknown,
}

// DefaultLatencyMetric is the default WithLatencyMetric.
const DefaultLatencyMetric = "latency"

type config struct {
	breakers      []string
	breakersSet   bool
	router        string
	routerSet     bool
	target        func(ctx context.Context, fullMethod string) Target
	route         func(fullMethod string) string
	callOpts      []tripswitch.CallOption
	latencyMetric string
	failures      uint64 // bit n: code n is a failure
	badCode       codes.Code
}

func newConfig(opts []Option) config {
	c := config{latencyMetric: DefaultLatencyMetric, failures: codeSet(DefaultFailureCodes)}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

func codeSet(cs []codes.Code) uint64 {
	var set uint64
	for _, c := range cs {
		set |= 1 << c
	}
	return set
}

func (c *config) validate() error {
	if c.target != nil && (c.breakersSet || c.routerSet) {
		return fmt.Errorf("%w: tripswitchgrpc: WithTarget and WithBreakers/WithRouter cannot be used together", tripswitch.ErrConflictingOptions)
	}
	if c.badCode != 0 {
		return fmt.Errorf("%w: tripswitchgrpc: WithFailureCodes: %d is not a gRPC status code", tripswitch.ErrInvalidOption, uint32(c.badCode))
	}
	return nil
}

// WithBreakers gates every call on the named breakers. Default: none,
// calls are not gated. Cannot be combined with WithTarget.
func WithBreakers(names ...string) Option {
	names = slices.Clone(names)
	return optionFunc(func(c *config) { c.breakers, c.breakersSet = names, true })
}

// WithRouter sends every call's samples to the router with this ID.
// Default: none, calls emit no samples. Cannot be combined with
// WithTarget.
func WithRouter(routerID string) Option {
	return optionFunc(func(c *config) { c.router, c.routerSet = routerID, true })
}

// WithTarget chooses the breakers and router per call from its context
// and full method ("/pkg.Service/Method"). A gate is compiled once per
// distinct Target and route and reused. fn must be safe for concurrent
// use. Default: the fixed WithBreakers and WithRouter.
func WithTarget(fn func(ctx context.Context, fullMethod string) Target) Option {
	return optionFunc(func(c *config) { c.target = fn })
}

// WithRoute names the route tagged "route" on a call's samples; an empty
// route adds no tag. Default: the full method, "/pkg.Service/Method".
func WithRoute(fn func(fullMethod string) string) Option {
	return optionFunc(func(c *config) { c.route = fn })
}

// WithCallOptions adds call options to every call: more metrics, tags,
// WithTraceID and the like. Breakers and router are set with
// WithBreakers, WithRouter or WithTarget instead. Default: none.
func WithCallOptions(opts ...tripswitch.CallOption) Option {
	opts = slices.Clone(opts)
	return optionFunc(func(c *config) { c.callOpts = append(c.callOpts, opts...) })
}

// WithLatencyMetric names the metric that carries each call's latency in
// milliseconds; an empty name reports none. Default: "latency".
func WithLatencyMetric(name string) Option {
	return optionFunc(func(c *config) { c.latencyMetric = name })
}

// WithFailureCodes replaces the status codes that count as failures; any
// other code, and OK, is a success. A call whose context was cancelled
// (the caller gave up, or on the server the client went away) reports
// nothing whatever its code. Default: DefaultFailureCodes.
func WithFailureCodes(cs ...codes.Code) Option {
	return optionFunc(func(c *config) {
		c.failures, c.badCode = 0, 0
		for _, code := range cs {
			if code > codes.Unauthenticated {
				c.badCode = code
				continue
			}
			c.failures |= 1 << code
		}
	})
}
