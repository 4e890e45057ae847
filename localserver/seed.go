package localserver

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// Seed is a set of routers and breakers to create in a project. It is also
// the document read by the -config flag of cmd/tripswitch-local.
type Seed struct {
	Routers  []SeedRouter  `json:"routers"`
	Breakers []SeedBreaker `json:"breakers"`
}

// SeedRouter describes a router. ID is optional; a fixed ID (such as
// "rtr_payments") makes tests and configuration files readable.
type SeedRouter struct {
	ID       string            `json:"id,omitempty"`
	Name     string            `json:"name"`
	Mode     string            `json:"mode,omitempty"` // static (default), canary or weighted
	Metadata map[string]string `json:"metadata,omitempty"`
}

// SeedBreaker describes a breaker with the fields of the management API's
// CreateBreaker. Zero durations and counts take the documented defaults.
// RouterIDs links the breaker to routers of the same seed or of the project.
type SeedBreaker struct {
	ID                          string             `json:"id,omitempty"`
	Name                        string             `json:"name"`
	Metric                      string             `json:"metric"`
	Kind                        string             `json:"kind"`
	KindParams                  map[string]float64 `json:"kind_params,omitempty"`
	Op                          string             `json:"op"`
	Threshold                   float64            `json:"threshold"`
	WindowMs                    int64              `json:"window_ms,omitempty"`
	MinCount                    int64              `json:"min_count,omitempty"`
	MinStateDurationMs          int64              `json:"min_state_duration_ms,omitempty"`
	CooldownMs                  int64              `json:"cooldown_ms,omitempty"`
	EvalIntervalMs              int64              `json:"eval_interval_ms,omitempty"`
	HalfOpenConfirmationMs      int64              `json:"half_open_confirmation_ms,omitempty"`
	HalfOpenBackoffEnabled      bool               `json:"half_open_backoff_enabled,omitempty"`
	HalfOpenBackoffCapMs        int64              `json:"half_open_backoff_cap_ms,omitempty"`
	HalfOpenIndeterminatePolicy string             `json:"half_open_indeterminate_policy,omitempty"`
	RecoveryWindowMs            int64              `json:"recovery_window_ms,omitempty"`
	RecoveryAllowRateRampSteps  int                `json:"recovery_allow_rate_ramp_steps,omitempty"`
	Actions                     json.RawMessage    `json:"actions,omitempty"`
	Metadata                    map[string]string  `json:"metadata,omitempty"`
	RouterIDs                   []string           `json:"router_ids"`
}

// spec returns the configuration sb describes, before validation.
func (sb SeedBreaker) spec() breakerSpec {
	return breakerSpec{
		Name: sb.Name,
		Config: engine.Config{
			Metric: sb.Metric, Kind: sb.Kind, KindParams: sb.KindParams, Op: sb.Op, Threshold: sb.Threshold,
			WindowMs: sb.WindowMs, MinCount: sb.MinCount, MinStateDurationMs: sb.MinStateDurationMs,
			CooldownMs: sb.CooldownMs, EvalIntervalMs: sb.EvalIntervalMs,
			HalfOpenConfirmationMs: sb.HalfOpenConfirmationMs, HalfOpenBackoffEnabled: sb.HalfOpenBackoffEnabled,
			HalfOpenBackoffCapMs: sb.HalfOpenBackoffCapMs, HalfOpenIndeterminatePolicy: sb.HalfOpenIndeterminatePolicy,
			RecoveryWindowMs: sb.RecoveryWindowMs, RecoveryAllowRateRampSteps: sb.RecoveryAllowRateRampSteps,
		},
		Actions: sb.Actions, Metadata: sb.Metadata,
	}
}

// item returns sb as an item of a breaker plan. A seed describes the whole
// breaker, so the breaker it matches keeps nothing of its configuration,
// and its links are always set.
func (sb SeedBreaker) item() breakerItem {
	return breakerItem{id: sb.ID, name: sb.Name, links: dedup(sb.RouterIDs), linksGiven: true,
		spec: func(_ *breaker, prefix string) (breakerSpec, *apiError) { return validateSpec(sb.spec(), prefix) }}
}

// checkSeedItem returns the check of a seed's breakers: a valid ID that
// does not belong to a breaker of another name (a seed matches breakers by
// name), and links to routers of known.
func checkSeedItem(known map[string]bool) itemCheck {
	return func(prefix string, it breakerItem, existing *breaker, sp breakerSpec) *apiError {
		if it.id != "" && !idPattern.MatchString(it.id) {
			return fieldErr(prefix+"id", "must be 1 to 64 letters, digits, '_' or '-'")
		}
		if existing != nil && existing.spec.Name != sp.Name { // matched by ID
			return fieldErr(prefix+"id", "%q already belongs to breaker %q", it.id, existing.spec.Name)
		}
		for _, rid := range it.links {
			if !known[rid] {
				return fieldErr(prefix+"router_ids", "no router %q in the seed or the project", rid)
			}
		}
		return nil
	}
}

// Seed creates the routers and breakers of seed in project projectID, or
// updates them when they exist (routers are matched by ID, else by name;
// breakers by name), so that seeding twice is harmless. Everything is
// validated before anything changes; an error names the offending entry and
// field (for example "breakers[1].kind").
func (s *Server) Seed(projectID string, seed Seed) error {
	s.mu.RLock()
	createdBy := s.org.AdminKeyID
	s.mu.RUnlock()
	p := s.project(projectID)
	if p == nil {
		return notFound("project", projectID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return notFound("project", projectID)
	}
	routers, known, err := p.planSeedRouters(seed.Routers)
	if err != nil {
		return err
	}
	items := make([]breakerItem, len(seed.Breakers))
	for i, sb := range seed.Breakers {
		items[i] = sb.item()
	}
	plan, aerr := p.planBreakers(items, checkSeedItem(known))
	if aerr != nil {
		return fmt.Errorf("localserver: seed: %s", aerr.Message)
	}

	now := s.now()
	for _, pr := range routers {
		if pr.existing != nil {
			pr.r.UpdatedAt = now
			*pr.existing = pr.r
			continue
		}
		s.newRouterLocked(p, pr.id, pr.r, createdBy, now)
	}
	s.applyPlanLocked(p, plan, now)
	return nil
}

// plannedRouter is a validated router of a seed: the router it updates
// (nil to create one) and what that router becomes.
type plannedRouter struct {
	existing *router
	r        router
	id       string
}

// planSeedRouters validates the routers of a seed and returns them with
// the IDs of every router a seed breaker may link to: the project's and
// the seed's. p.mu is held.
func (p *project) planSeedRouters(srs []SeedRouter) ([]plannedRouter, map[string]bool, error) {
	routers := make([]plannedRouter, len(srs))
	known := make(map[string]bool, len(p.routers)+len(srs))
	for id := range p.routers {
		known[id] = true
	}
	for i, sr := range srs {
		prefix := "routers[" + strconv.Itoa(i) + "]."
		if sr.ID != "" && !idPattern.MatchString(sr.ID) {
			return nil, nil, fmt.Errorf("localserver: seed: %sid: must be 1 to 64 letters, digits, '_' or '-'", prefix)
		}
		var existing *router
		if sr.ID != "" {
			existing = p.routers[sr.ID]
		} else {
			for _, r := range p.sortedRouters() {
				if r.Name == sr.Name {
					existing = r
					break
				}
			}
		}
		base := router{Enabled: true}
		if existing != nil {
			base = *existing
		}
		md := sr.Metadata
		r, aerr := routerInput{Name: &sr.Name, Mode: &sr.Mode, Metadata: &md}.apply(base)
		if aerr != nil {
			return nil, nil, fmt.Errorf("localserver: seed: %s%s", prefix, aerr.Message)
		}
		id := sr.ID
		if existing == nil && id == "" {
			id = newID("rtr_")
		}
		if existing != nil {
			id = existing.ID
		}
		known[id] = true
		routers[i] = plannedRouter{existing: existing, r: r, id: id}
	}
	return routers, known, nil
}
