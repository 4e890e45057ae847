package localserver

import (
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// findBreaker looks a breaker up by ID, then by name; p.mu is held.
func (p *project) findBreaker(idOrName string) *breaker {
	if b := p.breakers[idOrName]; b != nil {
		return b
	}
	return p.byName[idOrName]
}

// checkRouterIDs verifies that every router exists; p.mu is held.
func (p *project) checkRouterIDs(field string, ids []string) *apiError {
	if len(ids) > maxLinkIDs {
		return fieldErr(field, "must list at most %d routers", maxLinkIDs)
	}
	for _, id := range ids {
		if p.routers[id] == nil {
			return fieldErr(field, "no router %q in this project", truncate(id, 80))
		}
	}
	return nil
}

// newBreakerLocked adds a breaker built from a validated spec; p.mu is held.
func (s *Server) newBreakerLocked(p *project, id string, sp breakerSpec, routerIDs []string, now time.Time) *breaker {
	if id == "" {
		id = newID("brk_")
	}
	b := &breaker{seq: s.nextSeq(), ID: id, spec: sp, routerIDs: routerIDs,
		eng: engine.New(sp.Config, now.UnixMilli()), stateAt: now, InsertedAt: now, UpdatedAt: now}
	b.syncState()
	p.breakers[b.ID] = b
	p.byName[sp.Name] = b
	p.configChangedAt = now
	return b
}

// reconfigureLocked applies a validated spec (and links, when given) to b.
// A rename is announced on the project's streams. p.mu is held.
func (s *Server) reconfigureLocked(p *project, b *breaker, sp breakerSpec, links []string, linksGiven bool) {
	now := s.now()
	renamed := sp.Name != b.spec.Name
	delete(p.byName, b.spec.Name)
	b.spec = sp
	p.byName[sp.Name] = b
	b.eng.Reconfigure(sp.Config, now.UnixMilli())
	b.syncState()
	if linksGiven {
		b.routerIDs = links
	}
	b.UpdatedAt = now
	p.configChangedAt = now
	p.rebuildIndex()
	if renamed {
		s.publishLocked(p, b)
	}
}

func (s *Server) removeBreakerLocked(p *project, b *breaker) {
	delete(p.breakers, b.ID)
	delete(p.byName, b.spec.Name)
	p.configChangedAt = s.now()
	p.rebuildIndex()
}
