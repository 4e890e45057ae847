package localserver

import (
	"math"
	"net/http"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// ExtensionHeader is set (to "1") on every response of an endpoint that the
// local server adds to the hosted API: the breaker controls under
// …/breakers/{breaker_id}/state:force, state:release and window:reset, and
// the console.
const ExtensionHeader = "Tripswitch-Local-Extension"

// localExtension marks every response of h, errors included, with
// ExtensionHeader.
func localExtension(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(ExtensionHeader, "1")
		h.ServeHTTP(w, r)
	})
}

// mountLocalExtensions adds the breaker control endpoints under p, the
// project path pattern.
func (s *Server) mountLocalExtensions(mux *http.ServeMux, p string) {
	b := p + "/breakers/{breaker_id}"
	mux.Handle(b+"/state:force", localExtension(methods{http.MethodPost: s.adminProject(s.forceStateHTTP)}))
	mux.Handle(b+"/state:release", localExtension(methods{http.MethodPost: s.adminProject(s.breakerControl(releaseHold))}))
	mux.Handle(b+"/window:reset", localExtension(methods{http.MethodPost: s.adminProject(s.breakerControl(resetWindow))}))
}

// heldStateJSON is the answer of the control endpoints: the breaker's state
// and whether it is held (by state:force, until state:release).
type heldStateJSON struct {
	breakerStateJSON
	Held bool `json:"held"`
}

func heldView(b *breaker) heldStateJSON {
	return heldStateJSON{breakerStateJSON: stateView(b), Held: b.eng.Pinned()}
}

// parseState checks a state name and its allow rate: closed is 1, open 0,
// and half_open needs a rate within [0, 1].
func parseState(state string, allowRate *float64) (engine.State, float64, *apiError) {
	switch engine.State(state) {
	case engine.Closed, engine.Open:
		if allowRate != nil {
			return "", 0, fieldErr("allow_rate", "applies to half_open only; %s has a fixed allow rate", state)
		}
		if state == string(engine.Closed) {
			return engine.Closed, 1, nil
		}
		return engine.Open, 0, nil
	case engine.HalfOpen:
		if allowRate == nil {
			return "", 0, fieldErr("allow_rate", "is required for half_open: a number within [0, 1]")
		}
		if math.IsNaN(*allowRate) || *allowRate < 0 || *allowRate > 1 {
			return "", 0, fieldErr("allow_rate", "must be within [0, 1], got %v", *allowRate)
		}
		return engine.HalfOpen, *allowRate, nil
	case "":
		return "", 0, fieldErr("state", "is required: closed, open or half_open")
	}
	return "", 0, fieldErr("state", "must be closed, open or half_open, got %q", truncate(state, 40))
}

// HoldState forces a breaker into state ("closed", "open" or "half_open",
// with allowRate for half_open) and holds it there: evaluation leaves the
// breaker alone, whatever its samples, until [Server.ReleaseState]. The
// change is recorded as an event and pushed to the project's streams. Unlike
// [Server.ForceState], which lets evaluation continue from the forced state,
// this is what a test of a fallback path wants. The hold is not persisted.
func (s *Server) HoldState(projectID, breakerName, state string, allowRate float64) error {
	var rate *float64
	if state == string(engine.HalfOpen) {
		rate = &allowRate
	}
	_, err := s.holdState(projectID, breakerName, state, rate)
	return asError(err)
}

func (s *Server) holdState(projectID, breakerName, state string, allowRate *float64) (heldStateJSON, *apiError) {
	st, rate, aerr := parseState(state, allowRate)
	if aerr != nil {
		return heldStateJSON{}, aerr
	}
	p := s.project(projectID)
	if p == nil {
		return heldStateJSON{}, notFound("project", projectID)
	}
	now := s.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(breakerName)
	if b == nil {
		return heldStateJSON{}, notFound("breaker", breakerName)
	}
	tr := b.eng.Force(st, rate, now.UnixMilli())
	b.eng.Pin()
	tr.Reason = "forced to " + state + ", held until released"
	s.recordTransitionLocked(p, b, tr, now)
	s.markDirty()
	return heldView(b), nil
}

// ReleaseState ends the hold of [Server.HoldState]: the breaker is evaluated
// again from its current state at the next evaluation. Releasing a breaker
// that is not held changes nothing.
func (s *Server) ReleaseState(projectID, breakerName string) error {
	_, err := s.withBreaker(projectID, breakerName, releaseHold)
	return asError(err)
}

// ResetWindow drops every sample a breaker holds, as if none had arrived;
// its state is unchanged.
func (s *Server) ResetWindow(projectID, breakerName string) error {
	_, err := s.withBreaker(projectID, breakerName, resetWindow)
	return asError(err)
}

func releaseHold(b *breaker, nowMs int64) {
	if b.eng.Pinned() {
		b.eng.Release(nowMs)
	}
}

func resetWindow(b *breaker, nowMs int64) { b.eng.ResetWindow(nowMs) }

// withBreaker runs fn on a breaker under its project's lock and returns the
// breaker's state after it.
func (s *Server) withBreaker(projectID, breakerName string, fn func(b *breaker, nowMs int64)) (heldStateJSON, *apiError) {
	p := s.project(projectID)
	if p == nil {
		return heldStateJSON{}, notFound("project", projectID)
	}
	nowMs := s.nowMs()
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(breakerName)
	if b == nil {
		return heldStateJSON{}, notFound("breaker", breakerName)
	}
	fn(b, nowMs)
	return heldView(b), nil
}

// asError returns nil for a nil *apiError, so that callers of the Go
// methods compare with nil safely.
func asError(e *apiError) error {
	if e == nil {
		return nil
	}
	return e
}

// forceStateHTTP serves POST …/state:force with
// {"state": "open"|"closed"|"half_open", "allow_rate": 0..1 (half_open only)}.
func (s *Server) forceStateHTTP(w http.ResponseWriter, r *http.Request, p *project) error {
	var in struct {
		State     *string  `json:"state"`
		AllowRate *float64 `json:"allow_rate"`
	}
	if err := decodeJSON(w, r, &in, false); err != nil {
		return err
	}
	state := ""
	if in.State != nil {
		state = *in.State
	}
	v, err := s.holdState(p.ID, r.PathValue("breaker_id"), state, in.AllowRate)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// breakerControl serves a control endpoint without a body (state:release,
// window:reset): fn runs on the breaker and the answer is its state.
func (s *Server) breakerControl(fn func(b *breaker, nowMs int64)) func(w http.ResponseWriter, r *http.Request, p *project) error {
	return func(w http.ResponseWriter, r *http.Request, p *project) error {
		v, err := s.withBreaker(p.ID, r.PathValue("breaker_id"), fn)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}
