package localserver

import (
	"encoding/json"
	"fmt"
	"strconv"
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

func (sb SeedBreaker) spec() breakerSpec {
	return breakerSpec{
		Name: sb.Name, Metric: sb.Metric, Kind: sb.Kind, KindParams: sb.KindParams, Op: sb.Op, Threshold: sb.Threshold,
		WindowMs: sb.WindowMs, MinCount: sb.MinCount, MinStateDurationMs: sb.MinStateDurationMs, CooldownMs: sb.CooldownMs,
		EvalIntervalMs: sb.EvalIntervalMs, HalfOpenConfirmationMs: sb.HalfOpenConfirmationMs,
		HalfOpenBackoffEnabled: sb.HalfOpenBackoffEnabled, HalfOpenBackoffCapMs: sb.HalfOpenBackoffCapMs,
		HalfOpenIndeterminatePolicy: sb.HalfOpenIndeterminatePolicy, RecoveryWindowMs: sb.RecoveryWindowMs,
		RecoveryAllowRateRampSteps: sb.RecoveryAllowRateRampSteps, Actions: sb.Actions, Metadata: sb.Metadata,
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
	type plannedRouter struct {
		existing *router
		r        router
		id       string
	}
	routers := make([]plannedRouter, len(seed.Routers))
	specs := make([]breakerSpec, len(seed.Breakers))

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return notFound("project", projectID)
	}
	known := map[string]bool{}
	for id := range p.routers {
		known[id] = true
	}
	for i, sr := range seed.Routers {
		prefix := "routers[" + strconv.Itoa(i) + "]."
		if sr.ID != "" && !idPattern.MatchString(sr.ID) {
			return fmt.Errorf("localserver: seed: %sid: must be 1 to 64 letters, digits, '_' or '-'", prefix)
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
			return fmt.Errorf("localserver: seed: %s%s", prefix, aerr.Message)
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
	names := map[string]bool{}
	for i, sb := range seed.Breakers {
		prefix := "breakers[" + strconv.Itoa(i) + "]."
		sp, aerr := validateSpec(sb.spec(), prefix)
		if aerr != nil {
			return fmt.Errorf("localserver: seed: %s", aerr.Message)
		}
		if names[sp.Name] {
			return fmt.Errorf("localserver: seed: %sname: %q is listed twice", prefix, sp.Name)
		}
		names[sp.Name] = true
		if sb.ID != "" && !idPattern.MatchString(sb.ID) {
			return fmt.Errorf("localserver: seed: %sid: must be 1 to 64 letters, digits, '_' or '-'", prefix)
		}
		if other := p.breakers[sb.ID]; sb.ID != "" && other != nil && other.spec.Name != sp.Name {
			return fmt.Errorf("localserver: seed: %sid: %q already belongs to breaker %q", prefix, sb.ID, other.spec.Name)
		}
		for _, rid := range sb.RouterIDs {
			if !known[rid] {
				return fmt.Errorf("localserver: seed: %srouter_ids: no router %q in the seed or the project", prefix, rid)
			}
		}
		specs[i] = sp
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
	for i, sb := range seed.Breakers {
		links := append([]string(nil), sb.RouterIDs...)
		if b := p.byName[specs[i].Name]; b != nil {
			s.reconfigureLocked(p, b, specs[i], links, true)
			continue
		}
		b := s.newBreakerLocked(p, sb.ID, specs[i], links, now)
		s.publishLocked(p, b)
	}
	p.rebuildIndex()
	s.markDirty()
	return nil
}
