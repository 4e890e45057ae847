package localserver

import (
	"strconv"
	"time"
)

// A sync request (PUT …/breakers) and a seed ([Server.Seed]) both describe
// a set of breakers. They share one plan: every item is validated against
// the project before anything changes (planBreakers), then the plan is
// carried out (applyPlanLocked).

// breakerItem is one breaker of a sync request or a seed.
type breakerItem struct {
	id, name   string // as given; they match an existing breaker (ID first)
	links      []string
	linksGiven bool
	// spec returns the item's validated configuration; existing is the
	// breaker it reconfigures, or nil.
	spec func(existing *breaker, prefix string) (breakerSpec, *apiError)
}

// breakerChange is one validated item: the breaker it reconfigures (nil to
// create one) and what that breaker becomes.
type breakerChange struct {
	existing   *breaker
	id         string // of a new breaker; "" means generated
	spec       breakerSpec
	links      []string
	linksGiven bool
}

// itemCheck is what a sync or a seed checks beyond the configuration, once
// an item's spec is known to be valid and its name unique.
type itemCheck func(prefix string, it breakerItem, existing *breaker, sp breakerSpec) *apiError

// planBreakers validates items against p and returns the changes they
// make; nothing changes. Errors name the item ("breakers[2].kind"). p.mu
// is held.
func (p *project) planBreakers(items []breakerItem, check itemCheck) ([]breakerChange, *apiError) {
	plan := make([]breakerChange, len(items))
	seen := make(map[string]bool, len(items))
	seenIDs := make(map[string]bool, len(items))
	matched := make(map[*breaker]bool, len(items))
	for i, it := range items {
		prefix := "breakers[" + strconv.Itoa(i) + "]."
		existing := p.matchBreaker(it.id, it.name)
		sp, err := it.spec(existing, prefix)
		if err != nil {
			return nil, err
		}
		if seen[sp.Name] {
			return nil, fieldErr(prefix+"name", "%q is listed twice", sp.Name)
		}
		seen[sp.Name] = true
		// Two items must not describe one breaker: the second would
		// silently replace the first.
		if it.id != "" && seenIDs[it.id] {
			return nil, fieldErr(prefix+"id", "%q is listed twice", it.id)
		}
		seenIDs[it.id] = true
		if existing != nil && matched[existing] {
			return nil, fieldErr(prefix+"name", "describes breaker %q (%s), which an earlier item already describes", existing.spec.Name, existing.ID)
		}
		matched[existing] = true
		if err := check(prefix, it, existing, sp); err != nil {
			return nil, err
		}
		plan[i] = breakerChange{existing: existing, id: it.id, spec: sp, links: it.links, linksGiven: it.linksGiven}
	}
	return plan, nil
}

// matchBreaker returns the breaker an item describes: the one with its ID,
// else the one with its name, else nil. p.mu is held.
func (p *project) matchBreaker(id, name string) *breaker {
	if b := p.breakers[id]; id != "" && b != nil {
		return b
	}
	if name != "" {
		return p.byName[name]
	}
	return nil
}

// removeUnplannedLocked deletes the breakers that plan does not
// reconfigure. p.mu is held.
func (s *Server) removeUnplannedLocked(p *project, plan []breakerChange) {
	keep := make(map[*breaker]bool, len(plan))
	for _, c := range plan {
		if c.existing != nil {
			keep[c.existing] = true
		}
	}
	for _, b := range p.sortedBreakers() {
		if !keep[b] {
			s.removeBreakerLocked(p, b)
		}
	}
}

// applyPlanLocked carries out a validated plan and returns the breakers in
// its order. New breakers are announced on the project's streams. p.mu is
// held.
func (s *Server) applyPlanLocked(p *project, plan []breakerChange, now time.Time) []*breaker {
	out := make([]*breaker, len(plan))
	for i, c := range plan {
		if c.existing != nil {
			s.reconfigureLocked(p, c.existing, c.spec, c.links, c.linksGiven)
			out[i] = c.existing
			continue
		}
		out[i] = s.newBreakerLocked(p, c.id, c.spec, c.links, now)
		s.publishLocked(p, out[i])
	}
	// Renames within one plan may swap names: index them afresh.
	clear(p.byName)
	for _, b := range p.breakers {
		p.byName[b.spec.Name] = b
	}
	p.rebuildIndex()
	s.markDirty()
	return out
}
