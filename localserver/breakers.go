package localserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// breakerInput is a CreateBreaker (or a PATCH of one): absent fields are nil.
type breakerInput struct {
	ID                          *string            `json:"id"`
	Name                        *string            `json:"name"`
	Metric                      *string            `json:"metric"`
	Kind                        *string            `json:"kind"`
	KindParams                  json.RawMessage    `json:"kind_params"`
	Op                          *string            `json:"op"`
	Threshold                   *float64           `json:"threshold"`
	WindowMs                    *int64             `json:"window_ms"`
	MinCount                    *int64             `json:"min_count"`
	MinStateDurationMs          *int64             `json:"min_state_duration_ms"`
	CooldownMs                  *int64             `json:"cooldown_ms"`
	EvalIntervalMs              *int64             `json:"eval_interval_ms"`
	HalfOpenConfirmationMs      *int64             `json:"half_open_confirmation_ms"`
	HalfOpenBackoffEnabled      *bool              `json:"half_open_backoff_enabled"`
	HalfOpenBackoffCapMs        *int64             `json:"half_open_backoff_cap_ms"`
	HalfOpenIndeterminatePolicy *string            `json:"half_open_indeterminate_policy"`
	RecoveryWindowMs            *int64             `json:"recovery_window_ms"`
	RecoveryAllowRateRampSteps  *int               `json:"recovery_allow_rate_ramp_steps"`
	Actions                     json.RawMessage    `json:"actions"`
	Metadata                    *map[string]string `json:"metadata"`
	RouterIDs                   *[]string          `json:"router_ids"`
	RouterID                    *string            `json:"router_id"`
}

// unmarshalBreakerInput accepts a CreateBreaker object or {"breaker": {…}}.
func unmarshalBreakerInput(b []byte, allowEmpty bool) (breakerInput, error) {
	var in breakerInput
	var wrapped struct {
		Breaker json.RawMessage `json:"breaker"`
	}
	if err := unmarshalBody(b, &wrapped, allowEmpty); err == nil && isObject(wrapped.Breaker) {
		b = wrapped.Breaker
	}
	err := unmarshalBody(b, &in, allowEmpty)
	return in, err
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// routerLinks returns the router IDs named by the input, or nil when absent.
func (in breakerInput) routerLinks() (ids []string, given bool) {
	if in.RouterIDs != nil {
		ids = slices.Clone(*in.RouterIDs)
		given = true
	}
	if in.RouterID != nil && *in.RouterID != "" {
		ids = append(ids, *in.RouterID)
		given = true
	}
	if !given {
		return nil, false
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, true
}

// apply overlays the input on sp and validates the result; prefix is
// prepended to field names in errors (e.g. "breakers[2].").
func (in breakerInput) apply(sp breakerSpec, prefix string) (breakerSpec, *apiError) {
	field := func(f string) string { return prefix + f }
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	if in.Name != nil {
		sp.Name = *in.Name
	}
	if in.Metric != nil {
		sp.Metric = *in.Metric
	}
	if in.Kind != nil {
		sp.Kind = *in.Kind
	}
	if in.KindParams != nil && !bytes.Equal(bytes.TrimSpace(in.KindParams), []byte("null")) {
		var kp map[string]float64
		if err := json.Unmarshal(in.KindParams, &kp); err != nil {
			return sp, fieldErr(field("kind_params"), "must be an object of numbers, e.g. {\"percentile\": 99}")
		}
		if len(kp) > maxMetadata {
			return sp, fieldErr(field("kind_params"), "must have at most %d entries", maxMetadata)
		}
		sp.KindParams = kp
	} else if in.KindParams != nil {
		sp.KindParams = nil
	}
	if in.Op != nil {
		sp.Op = *in.Op
	}
	if in.Threshold != nil {
		sp.Threshold = *in.Threshold
	}
	set(&sp.WindowMs, in.WindowMs)
	set(&sp.MinCount, in.MinCount)
	set(&sp.MinStateDurationMs, in.MinStateDurationMs)
	set(&sp.CooldownMs, in.CooldownMs)
	set(&sp.EvalIntervalMs, in.EvalIntervalMs)
	set(&sp.HalfOpenConfirmationMs, in.HalfOpenConfirmationMs)
	set(&sp.HalfOpenBackoffCapMs, in.HalfOpenBackoffCapMs)
	set(&sp.RecoveryWindowMs, in.RecoveryWindowMs)
	if in.HalfOpenBackoffEnabled != nil {
		sp.HalfOpenBackoffEnabled = *in.HalfOpenBackoffEnabled
	}
	if in.HalfOpenIndeterminatePolicy != nil {
		sp.HalfOpenIndeterminatePolicy = *in.HalfOpenIndeterminatePolicy
	}
	if in.RecoveryAllowRateRampSteps != nil {
		sp.RecoveryAllowRateRampSteps = *in.RecoveryAllowRateRampSteps
	}
	if in.Actions != nil {
		a := bytes.TrimSpace(in.Actions)
		if len(a) > maxActionsLen {
			return sp, fieldErr(field("actions"), "must be at most %d bytes of JSON", maxActionsLen)
		}
		if bytes.Equal(a, []byte("null")) {
			sp.Actions = nil
		} else {
			var buf bytes.Buffer
			if err := json.Compact(&buf, a); err != nil {
				return sp, fieldErr(field("actions"), "must be valid JSON")
			}
			sp.Actions = buf.Bytes()
		}
	}
	if in.Metadata != nil {
		sp.Metadata = cloneStringMap(*in.Metadata)
	}
	return validateSpec(sp, prefix)
}

// validateSpec checks sp, fills the engine defaults and returns the result.
func validateSpec(sp breakerSpec, prefix string) (breakerSpec, *apiError) {
	if err := checkName(prefix+"name", sp.Name); err != nil {
		return sp, err
	}
	if sp.Metric == "" {
		return sp, fieldErr(prefix+"metric", "is required")
	}
	if err := checkText(prefix+"metric", sp.Metric, maxMetricLen); err != nil {
		return sp, err
	}
	if sp.Kind == "" {
		return sp, fieldErr(prefix+"kind", "is required")
	}
	if err := checkMetadata(prefix+"metadata", sp.Metadata); err != nil {
		return sp, err
	}
	cfg := sp.engineConfig().Normalize()
	if err := cfg.Validate(); err != nil {
		var fe *engine.FieldError
		if errors.As(err, &fe) {
			return sp, &apiError{Status: http.StatusUnprocessableEntity, Code: codeInvalidField, Field: prefix + fe.Field,
				Message: prefix + fe.Field + ": " + fe.Message}
		}
		return sp, fieldErr(prefix+"kind", "%v", err)
	}
	sp = sp.withEngineConfig(cfg)
	if sp.Metadata == nil {
		sp.Metadata = map[string]string{}
	}
	if sp.KindParams == nil {
		sp.KindParams = map[string]float64{}
	}
	return sp, nil
}

type breakerJSON struct {
	ID        string   `json:"id"`
	RouterIDs []string `json:"router_ids"`
	// RouterID is the first linked router ("" when none), for older
	// clients that read only router_id.
	RouterID string `json:"router_id"`
	breakerSpec
	InsertedAt string `json:"inserted_at"`
	UpdatedAt  string `json:"updated_at"`
}

// breakerView renders b; the project's mu is held.
func breakerView(b *breaker) breakerJSON {
	ids := b.routerIDs
	if ids == nil {
		ids = []string{}
	}
	first := ""
	if len(ids) > 0 {
		first = ids[0]
	}
	return breakerJSON{ID: b.ID, RouterIDs: slices.Clone(ids), RouterID: first, breakerSpec: b.spec,
		InsertedAt: fmtTime(b.InsertedAt), UpdatedAt: fmtTime(b.UpdatedAt)}
}

// writeBreaker answers with the wrapped or the bare shape.
func (s *Server) writeBreaker(w http.ResponseWriter, status int, v breakerJSON) {
	if s.cfg.BareResponses {
		writeJSON(w, status, v)
		return
	}
	writeJSON(w, status, map[string]any{"breaker": v, "router_ids": v.RouterIDs})
}

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
		eng: engine.New(sp.engineConfig(), now.UnixMilli()), stateAt: now, InsertedAt: now, UpdatedAt: now}
	b.syncState()
	p.breakers[b.ID] = b
	p.byName[sp.Name] = b
	p.configChangedAt = now
	return b
}

func (s *Server) listBreakers(w http.ResponseWriter, r *http.Request, p *project) error {
	pg, perr := parsePage(r.URL.Query())
	if perr != nil {
		return perr
	}
	p.mu.Lock()
	all := p.sortedBreakers()
	items, next := paginate(all, func(b *breaker) uint64 { return b.seq }, pg)
	out := make([]breakerJSON, len(items))
	for i, b := range items {
		out[i] = breakerView(b)
	}
	hash := configHash(all)
	updated := p.configChangedAt
	total := len(all)
	p.mu.Unlock()
	resp := map[string]any{"breakers": out, "count": total, "hash": hash, "updated_at": fmtTime(updated)}
	if next != "" {
		resp["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// configHash identifies the configuration of a set of breakers.
func configHash(bs []*breaker) string {
	h := sha256.New()
	for _, b := range bs {
		v, _ := json.Marshal(breakerView(b).breakerSpec)
		fmt.Fprintf(h, "%s\x00%q\x00%s\n", b.ID, b.routerIDs, v)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *Server) createBreaker(w http.ResponseWriter, r *http.Request, p *project) error {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	in, err := unmarshalBreakerInput(body, false)
	if err != nil {
		return err
	}
	sp, aerr := in.apply(breakerSpec{}, "")
	if aerr != nil {
		return aerr
	}
	links, _ := in.routerLinks()
	id := deref(in.ID)
	if id != "" && (!idPattern.MatchString(id)) {
		return fieldErr("id", "must be 1 to 64 letters, digits, '_' or '-'")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return notFound("project", p.ID)
	}
	if p.byName[sp.Name] != nil {
		return &apiError{Status: http.StatusConflict, Code: codeNameTaken, Field: "name",
			Message: fmt.Sprintf("name: a breaker named %q already exists in this project", sp.Name)}
	}
	if id != "" && p.breakers[id] != nil {
		return errf(http.StatusConflict, codeConflict, "a breaker with ID %q already exists", id)
	}
	if err := p.checkRouterIDs("router_ids", links); err != nil {
		return err
	}
	now := s.now()
	b := s.newBreakerLocked(p, id, sp, links, now)
	p.rebuildIndex()
	s.publishLocked(p, b)
	s.markDirty()
	s.writeBreaker(w, http.StatusCreated, breakerView(b))
	return nil
}

func (s *Server) getBreaker(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("breaker_id")
	p.mu.Lock()
	b := p.findBreaker(id)
	if b == nil {
		p.mu.Unlock()
		return notFound("breaker", id)
	}
	v := breakerView(b)
	p.mu.Unlock()
	s.writeBreaker(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateBreaker(w http.ResponseWriter, r *http.Request, p *project) error {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	in, err := unmarshalBreakerInput(body, true)
	if err != nil {
		return err
	}
	id := r.PathValue("breaker_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(id)
	if b == nil {
		return notFound("breaker", id)
	}
	sp, aerr := in.apply(b.spec, "")
	if aerr != nil {
		return aerr
	}
	if other := p.byName[sp.Name]; other != nil && other != b {
		return &apiError{Status: http.StatusConflict, Code: codeNameTaken, Field: "name",
			Message: fmt.Sprintf("name: a breaker named %q already exists in this project", sp.Name)}
	}
	links, given := in.routerLinks()
	if given {
		if err := p.checkRouterIDs("router_ids", links); err != nil {
			return err
		}
	}
	s.reconfigureLocked(p, b, sp, links, given)
	s.markDirty()
	s.writeBreaker(w, http.StatusOK, breakerView(b))
	return nil
}

// reconfigureLocked applies a validated spec (and links, when given) to b.
// A rename is announced on the project's streams. p.mu is held.
func (s *Server) reconfigureLocked(p *project, b *breaker, sp breakerSpec, links []string, linksGiven bool) {
	now := s.now()
	renamed := sp.Name != b.spec.Name
	delete(p.byName, b.spec.Name)
	b.spec = sp
	p.byName[sp.Name] = b
	b.eng.Reconfigure(sp.engineConfig(), now.UnixMilli())
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

func (s *Server) deleteBreaker(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("breaker_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(id)
	if b == nil {
		return notFound("breaker", id)
	}
	s.removeBreakerLocked(p, b)
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) removeBreakerLocked(p *project, b *breaker) {
	delete(p.breakers, b.ID)
	delete(p.byName, b.spec.Name)
	p.configChangedAt = s.now()
	p.rebuildIndex()
}

// syncBreakers replaces the project's breakers: listed names are created or
// reconfigured (keeping their ID and state), the others deleted. The whole
// request is validated before anything changes.
func (s *Server) syncBreakers(w http.ResponseWriter, r *http.Request, p *project) error {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	var raws []json.RawMessage
	var doc struct {
		Breakers *[]json.RawMessage `json:"breakers"`
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := unmarshalBody(body, &raws, false); err != nil {
			return err
		}
	} else {
		if err := unmarshalBody(body, &doc, false); err != nil {
			return err
		}
		if doc.Breakers == nil {
			return fieldErr("breakers", "is required (send [] to delete every breaker)")
		}
		raws = *doc.Breakers
	}
	if len(raws) > maxSyncBreakers {
		return fieldErr("breakers", "must list at most %d breakers", maxSyncBreakers)
	}
	ins := make([]breakerInput, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &ins[i]); err != nil {
			ae := jsonError(err)
			if ae.Field != "" {
				ae.Field = "breakers[" + strconv.Itoa(i) + "]." + ae.Field
				ae.Message = "breakers[" + strconv.Itoa(i) + "]." + ae.Message
			} else {
				ae = fieldErr("breakers["+strconv.Itoa(i)+"]", "must be a breaker object")
			}
			return ae
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	type planned struct {
		existing *breaker
		spec     breakerSpec
		links    []string
		given    bool
		id       string
	}
	plan := make([]planned, len(ins))
	seen := map[string]bool{}
	for i, in := range ins {
		prefix := "breakers[" + strconv.Itoa(i) + "]."
		var base breakerSpec
		var existing *breaker
		if in.ID != nil && *in.ID != "" {
			existing = p.breakers[*in.ID]
		}
		if existing == nil && in.Name != nil {
			existing = p.byName[*in.Name]
		}
		if existing != nil {
			// A sync describes the whole breaker: start from the defaults,
			// keeping only metadata unless the item sets it.
			base = breakerSpec{Metadata: existing.spec.Metadata}
		}
		sp, aerr := in.apply(base, prefix)
		if aerr != nil {
			return aerr
		}
		if seen[sp.Name] {
			return fieldErr(prefix+"name", "%q is listed twice", sp.Name)
		}
		seen[sp.Name] = true
		links, given := in.routerLinks()
		if given {
			if err := p.checkRouterIDs(prefix+"router_ids", links); err != nil {
				return err
			}
		}
		id := deref(in.ID)
		if existing == nil && id != "" && !idPattern.MatchString(id) {
			return fieldErr(prefix+"id", "must be 1 to 64 letters, digits, '_' or '-'")
		}
		plan[i] = planned{existing: existing, spec: sp, links: links, given: given, id: id}
	}
	keep := map[*breaker]bool{}
	for _, pl := range plan {
		if pl.existing != nil {
			keep[pl.existing] = true
		}
	}
	for _, b := range p.sortedBreakers() {
		if !keep[b] {
			s.removeBreakerLocked(p, b)
		}
	}
	now := s.now()
	out := make([]breakerJSON, len(plan))
	for i, pl := range plan {
		var b *breaker
		if pl.existing != nil {
			b = pl.existing
			s.reconfigureLocked(p, b, pl.spec, pl.links, pl.given)
		} else {
			b = s.newBreakerLocked(p, pl.id, pl.spec, pl.links, now)
			s.publishLocked(p, b)
		}
		out[i] = breakerView(b)
	}
	clear(p.byName)
	for _, b := range p.breakers {
		p.byName[b.spec.Name] = b
	}
	p.rebuildIndex()
	s.markDirty()
	if s.cfg.BareResponses {
		writeJSON(w, http.StatusOK, out)
	} else {
		writeJSON(w, http.StatusOK, map[string]any{"breakers": out})
	}
	return nil
}

type breakerStateJSON struct {
	BreakerID string   `json:"breaker_id"`
	Name      string   `json:"name"`
	State     string   `json:"state"`
	AllowRate *float64 `json:"allow_rate"`
	UpdatedAt string   `json:"updated_at"`
}

func stateView(b *breaker) breakerStateJSON {
	rate := b.allowRate
	return breakerStateJSON{BreakerID: b.ID, Name: b.spec.Name, State: string(b.state), AllowRate: &rate, UpdatedAt: fmtTime(b.stateAt)}
}

func (s *Server) breakerState(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("breaker_id")
	p.mu.Lock()
	b := p.findBreaker(id)
	if b == nil {
		p.mu.Unlock()
		return notFound("breaker", id)
	}
	v := stateView(b)
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) batchState(w http.ResponseWriter, r *http.Request, p *project) error {
	var in struct {
		BreakerIDs []string `json:"breaker_ids"`
		RouterID   string   `json:"router_id"`
	}
	if err := decodeJSON(w, r, &in, true); err != nil {
		return err
	}
	if len(in.BreakerIDs) > maxLinkIDs {
		return fieldErr("breaker_ids", "must list at most %d breakers", maxLinkIDs)
	}
	p.mu.Lock()
	if in.RouterID != "" && p.routers[in.RouterID] == nil {
		p.mu.Unlock()
		return notFound("router", in.RouterID)
	}
	var sel []*breaker
	if len(in.BreakerIDs) > 0 {
		for _, id := range in.BreakerIDs {
			if b := p.findBreaker(id); b != nil && !slices.Contains(sel, b) {
				sel = append(sel, b)
			}
		}
	} else {
		sel = p.sortedBreakers()
	}
	out := make([]breakerStateJSON, 0, len(sel))
	for _, b := range sel {
		if in.RouterID == "" || slices.Contains(b.routerIDs, in.RouterID) {
			out = append(out, stateView(b))
		}
	}
	p.mu.Unlock()
	if s.cfg.BareResponses {
		writeJSON(w, http.StatusOK, out)
	} else {
		writeJSON(w, http.StatusOK, map[string]any{"states": out})
	}
	return nil
}

// metadataPatch is a flat map merged into metadata; a null value deletes
// the key.
type metadataPatch map[string]*string

func (mp metadataPatch) merge(cur map[string]string) map[string]string {
	out := cloneStringMap(cur)
	for k, v := range mp {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

func decodeMetadataPatch(w http.ResponseWriter, r *http.Request) (metadataPatch, error) {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return nil, err
	}
	var mp metadataPatch
	if err := unmarshalBody(body, &mp, false); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
			return nil, fieldErr("metadata", "must be a flat object of strings")
		}
		return nil, err
	}
	// Accept {"metadata": {…}} as well as the bare map.
	if len(mp) == 1 && mp["metadata"] != nil {
		var inner metadataPatch
		if json.Unmarshal([]byte(*mp["metadata"]), &inner) == nil {
			mp = inner
		}
	}
	return mp, nil
}

func (mp *metadataPatch) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(metadataPatch, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case bytes.Equal(v, []byte("null")):
			out[k] = nil
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			out[k] = &s
		case k == "metadata" && len(raw) == 1 && len(v) > 0 && v[0] == '{':
			s := string(v)
			out[k] = &s
		default:
			return &json.UnmarshalTypeError{Value: "non-string", Type: stringType, Field: k}
		}
	}
	*mp = out
	return nil
}

func (s *Server) patchBreakerMetadata(w http.ResponseWriter, r *http.Request, p *project) error {
	mp, err := decodeMetadataPatch(w, r)
	if err != nil {
		return err
	}
	id := r.PathValue("breaker_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.findBreaker(id)
	if b == nil {
		return notFound("breaker", id)
	}
	md := mp.merge(b.spec.Metadata)
	if err := checkMetadata("metadata", md); err != nil {
		return err
	}
	b.spec.Metadata = md
	b.UpdatedAt = s.now()
	s.markDirty()
	writeJSON(w, http.StatusOK, map[string]any{"id": b.ID, "metadata": md})
	return nil
}

var stringType = reflect.TypeOf("")
