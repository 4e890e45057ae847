package tripswitchhttp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/gateset"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Handler sheds load on an endpoint the application owns: it gates each
// request on Tripswitch breakers before the wrapped handler runs, and
// reports what the handler did as samples. It is safe for concurrent use.
type Handler struct {
	next  http.Handler
	mux   *http.ServeMux // next, when it is a mux: asked for the route
	cfg   config
	gates *gateset.Set
	fixed *tripswitch.Gate
}

// NewHandler wraps next. A rejected request does not reach next: it is
// answered 503 Service Unavailable with a Retry-After header
// (WithRetryAfter, WithRejectHandler). A request let through reports one
// sample per metric to its router, tagged with its route (WithRoute),
// classified by WithClassifier from the status next wrote (200 when it
// wrote none), with the latency of next.ServeHTTP. A panic in next is a
// failure and goes on.
//
// NewHandler returns an error naming the option when the options are
// invalid.
func NewHandler(next http.Handler, c *tripswitch.Client, opts ...Option) (*Handler, error) {
	if next == nil {
		return nil, errors.New("tripswitchhttp: NewHandler: nil handler")
	}
	h := &Handler{next: next, cfg: newConfig(opts)}
	h.mux, _ = next.(*http.ServeMux)
	gates, fixed, err := newGates(c, &h.cfg, "NewHandler")
	if err != nil {
		return nil, err
	}
	h.gates = gates
	if h.cfg.route == nil && h.cfg.target == nil {
		// The route comes from r.Pattern or the mux: a fixed gate only
		// serves requests without a route.
		fixed = nil
	}
	h.fixed = fixed
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gate := h.fixed
	if gate == nil {
		var err error
		if gate, err = gateFor(h.gates, &h.cfg, r, h.route(r)); err != nil {
			h.rejected(w, r, err)
			return
		}
	}
	permit, err := gate.Allow(r.Context())
	if err != nil {
		h.rejected(w, r, err)
		return
	}
	if !permit.Pending() {
		h.next.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	finished := false
	defer func() {
		if !finished {
			h.complete(permit, r, sw.status, ErrHandlerPanicked)
		}
	}()
	h.next.ServeHTTP(sw, r)
	finished = true
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	// A context that ended (the client went away, a deadline passed) is
	// the request's error.
	h.complete(permit, r, status, r.Context().Err())
}

func (h *Handler) route(r *http.Request) string {
	switch {
	case h.cfg.route != nil:
		return h.cfg.route(r)
	case r.Pattern != "":
		return r.Pattern
	case h.mux != nil:
		_, pattern := h.mux.Handler(r)
		return pattern
	}
	return ""
}

func (h *Handler) complete(p tripswitch.Permit, r *http.Request, status int, err error) {
	finish(p, r, h.cfg.classOf(r, status, err))
}

func (h *Handler) rejected(w http.ResponseWriter, r *http.Request, err error) {
	if h.cfg.reject != nil {
		h.cfg.reject(w, r, err)
		return
	}
	if !errors.Is(err, tripswitch.ErrOpen) {
		http.Error(w, "tripswitchhttp: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if d := h.cfg.retryAfter; d > 0 {
		secs := int64((d + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}

// statusWriter records the status a handler writes. Unwrap lets
// http.ResponseController reach the underlying writer's Flush, Hijack and
// deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush flushes the underlying writer when it can.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
