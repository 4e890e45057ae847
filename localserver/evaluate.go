package localserver

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// evalLoop evaluates due breakers every EvalTick until ctx ends.
func (s *Server) evalLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.EvalTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Evaluate()
		}
	}
}

// Evaluate runs one evaluation pass now, by the configured clock: every
// breaker whose evaluation is due is evaluated once, and each transition is
// recorded as an event and pushed to the project's streams. The loop started
// by Start calls it every EvalTick; tests with an injected clock call it
// directly after moving the clock.
func (s *Server) Evaluate() {
	now := s.now()
	ms := now.UnixMilli()
	changed := false
	for _, p := range s.projectList() {
		p.mu.Lock()
		if p.deleted || len(p.breakers) == 0 {
			p.mu.Unlock()
			continue
		}
		var due []*breaker
		for _, b := range p.breakers {
			if b.eng.NextEvalMs() <= ms {
				due = append(due, b)
			}
		}
		slices.SortFunc(due, func(a, b *breaker) int { return cmpSeq(a.seq, b.seq) })
		for _, b := range due {
			if tr, ok := b.eng.Evaluate(ms); ok {
				s.recordTransitionLocked(p, b, tr, now)
				changed = true
			}
		}
		p.lastEvalMs = ms
		p.mu.Unlock()
	}
	if changed {
		s.markDirty()
	}
}

// recordTransitionLocked stores a transition as an event and pushes the new
// state to the project's streams; p.mu is held.
func (s *Server) recordTransitionLocked(p *project, b *breaker, tr engine.Transition, now time.Time) {
	b.syncState()
	at := now
	if tr.AtMs != 0 {
		at = time.UnixMilli(tr.AtMs)
	}
	b.stateAt = at
	e := &event{seq: s.nextSeq(), ID: newID("evt_"), BreakerID: b.ID, BreakerName: b.spec.Name,
		From: string(tr.From), To: string(tr.To), AllowRate: tr.AllowRate, Reason: tr.Reason, Timestamp: at}
	p.appendEvent(e)
	s.publishLocked(p, b)
	s.log.Info("breaker transition", "project_id", p.ID, "breaker", b.spec.Name,
		"from", e.From, "to", e.To, "allow_rate", e.AllowRate, "reason", e.Reason)
}

// ForceState puts a breaker into state ("closed", "open" or "half_open")
// with allowRate (used for half_open; closed is 1 and open 0 whatever is
// passed). The change is recorded as an event and pushed to the project's
// streams. The breaker is named by name (or ID).
func (s *Server) ForceState(projectID, breakerName, state string, allowRate float64) error {
	var st engine.State
	switch state {
	case string(engine.Closed):
		st, allowRate = engine.Closed, 1
	case string(engine.Open):
		st, allowRate = engine.Open, 0
	case string(engine.HalfOpen):
		st = engine.HalfOpen
		if math.IsNaN(allowRate) || allowRate < 0 || allowRate > 1 {
			return fmt.Errorf("localserver: allow rate must be within [0, 1]")
		}
	default:
		return fmt.Errorf("localserver: unknown state %q (want closed, open or half_open)", state)
	}
	p := s.project(projectID)
	if p == nil {
		return notFound("project", projectID)
	}
	now := s.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(breakerName)
	if b == nil {
		return notFound("breaker", breakerName)
	}
	tr := b.eng.Force(st, allowRate, now.UnixMilli())
	if tr.Reason == "" || tr.Reason == "forced" {
		tr.Reason = "forced to " + state
	}
	s.recordTransitionLocked(p, b, tr, now)
	s.markDirty()
	return nil
}

// Aggregate returns a breaker's aggregate over its current window and the
// number of samples in it, by the configured clock.
func (s *Server) Aggregate(projectID, breakerName string) (value float64, count int, err error) {
	p := s.project(projectID)
	if p == nil {
		return 0, 0, notFound("project", projectID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(breakerName)
	if b == nil {
		return 0, 0, notFound("breaker", breakerName)
	}
	value, count = b.eng.Aggregate(s.nowMs())
	return value, count, nil
}

// BreakerState returns a breaker's current state and allow rate.
func (s *Server) BreakerState(projectID, breakerName string) (state string, allowRate float64, err error) {
	p := s.project(projectID)
	if p == nil {
		return "", 0, notFound("project", projectID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(breakerName)
	if b == nil {
		return "", 0, notFound("breaker", breakerName)
	}
	return string(b.state), b.allowRate, nil
}
