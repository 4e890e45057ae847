package tripswitchhttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/tripswitch-otel/tripswitch-go/internal/gateset"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Transport is an http.RoundTripper that guards each request with
// Tripswitch breakers and reports its outcome as samples. It is safe for
// concurrent use.
type Transport struct {
	base  http.RoundTripper
	cfg   config
	gates *gateset.Set
	fixed *tripswitch.Gate // without WithTarget and WithRoute
}

// NewTransport wraps base (http.DefaultTransport when nil). Each request
// is gated, from the client's local state, on its breakers; a rejected
// request does not reach base and returns the *tripswitch.BreakerError
// (through http.Client, wrapped in a *url.Error: errors.Is(err,
// tripswitch.ErrOpen) holds) or the WithFallback response. A request let
// through reports one sample per metric to its router, classified by
// WithClassifier, with the latency measured from the gate to WithLatencyEnd
// and the trace ID of the span in the request's context (without one, the
// client's extractor decides).
//
// NewTransport returns an error naming the option when the options are
// invalid.
func NewTransport(base http.RoundTripper, c *tripswitch.Client, opts ...Option) (*Transport, error) {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{base: base, cfg: newConfig(opts)}
	gates, fixed, err := newGates(c, &t.cfg, "NewTransport")
	if err != nil {
		return nil, err
	}
	t.gates, t.fixed = gates, fixed
	return t, nil
}

// newGates checks cfg and compiles its fixed gate (nil when the gate
// depends on the request).
func newGates(c *tripswitch.Client, cfg *config, what string) (*gateset.Set, *tripswitch.Gate, error) {
	if c == nil {
		return nil, nil, fmt.Errorf("%w: %s: nil *tripswitch.Client", tripswitch.ErrInvalidOption, what)
	}
	if err := cfg.validate(what); err != nil {
		return nil, nil, err
	}
	probe := gateset.Target{Breakers: cfg.breakers, Router: cfg.router}
	gates, err := gateset.New(gateset.Spec{Client: c, LatencyMetric: cfg.latencyMetric, Extra: cfg.callOpts}, probe)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if cfg.target != nil || cfg.route != nil {
		return gates, nil, nil
	}
	fixed, _ := gates.Route("")
	return gates, fixed, nil
}

// gateFor returns the gate of r; route is the route r is tagged with.
func gateFor(gates *gateset.Set, cfg *config, r *http.Request, route string) (*tripswitch.Gate, error) {
	if cfg.target == nil {
		return gates.Route(route)
	}
	tt := cfg.target(r)
	return gates.Gate(gateset.Target{Breakers: tt.Breakers, Router: tt.Router, Route: route})
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	gate := t.fixed
	if gate == nil {
		var route string
		if t.cfg.route != nil {
			route = t.cfg.route(r)
		}
		var err error
		if gate, err = gateFor(t.gates, &t.cfg, r, route); err != nil {
			closeRequestBody(r)
			return nil, err
		}
	}
	permit, err := gate.Allow(r.Context())
	if err != nil {
		closeRequestBody(r)
		if t.cfg.fallback != nil && errors.Is(err, tripswitch.ErrOpen) {
			return t.cfg.fallback(r, err)
		}
		return nil, err
	}
	resp, err := t.base.RoundTrip(r)
	if !permit.Pending() {
		return resp, err // no samples to report
	}
	if err != nil {
		t.complete(permit, r, 0, err)
		return resp, err
	}
	if t.cfg.latencyEnd == Headers || resp.Body == nil || resp.Body == http.NoBody || isWritable(resp.Body) {
		t.complete(permit, r, resp.StatusCode, nil)
		return resp, nil
	}
	resp.Body = &body{rc: resp.Body, t: t, r: r, status: resp.StatusCode, permit: permit}
	return resp, nil
}

// complete reports a request's outcome.
func (t *Transport) complete(p tripswitch.Permit, r *http.Request, status int, err error) {
	finish(p, r, t.cfg.classOf(r, status, err))
}

func closeRequestBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

// isWritable reports a body that is also the connection (101 Switching
// Protocols): it is handed over as is, and the latency ends at the headers.
func isWritable(rc io.ReadCloser) bool {
	_, ok := rc.(io.Writer)
	return ok
}

// body reports the request when the caller closes it. A read error other
// than io.EOF before the close is the request's error.
type body struct {
	rc     io.ReadCloser
	t      *Transport
	r      *http.Request
	status int
	permit tripswitch.Permit

	mu  sync.Mutex
	err error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

// Close closes the body and reports the request once; later closes only
// close the underlying body again.
func (b *body) Close() error {
	err := b.rc.Close()
	b.mu.Lock()
	readErr := b.err
	b.mu.Unlock()
	if b.permit.Pending() {
		b.t.complete(b.permit, b.r, b.status, readErr)
	}
	return err
}

// finish reports a classified request, with the trace ID of the span in
// its context.
func finish(p tripswitch.Permit, r *http.Request, class Class) {
	if class == Skip {
		return
	}
	p.Finish(tripswitch.Outcome{OK: class == Success, TraceID: gateset.TraceID(r.Context())})
}
