package localserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

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

// syncBreakers replaces the project's breakers: listed names are created or
// reconfigured (keeping their ID and state), the others deleted. The whole
// request is validated before anything changes.
func (s *Server) syncBreakers(w http.ResponseWriter, r *http.Request, p *project) error {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	ins, err := decodeSyncBody(body)
	if err != nil {
		return err
	}
	items := make([]breakerItem, len(ins))
	for i, in := range ins {
		items[i] = in.syncItem()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	plan, aerr := p.planBreakers(items, p.checkSyncItem)
	if aerr != nil {
		return aerr
	}
	s.removeUnplannedLocked(p, plan)
	bs := s.applyPlanLocked(p, plan, s.now())
	out := make([]breakerJSON, len(bs))
	for i, b := range bs {
		out[i] = breakerView(b)
	}
	if s.cfg.BareResponses {
		writeJSON(w, http.StatusOK, out)
	} else {
		writeJSON(w, http.StatusOK, map[string]any{"breakers": out})
	}
	return nil
}

// syncItem returns in as an item of a sync plan. A sync describes the
// whole breaker: the breaker it matches keeps only its metadata (unless the
// item sets it), and its links only when the item names none.
func (in breakerInput) syncItem() breakerItem {
	links, given := in.routerLinks()
	return breakerItem{id: deref(in.ID), name: deref(in.Name), links: links, linksGiven: given,
		spec: func(existing *breaker, prefix string) (breakerSpec, *apiError) {
			var base breakerSpec
			if existing != nil {
				base = breakerSpec{Metadata: existing.spec.Metadata}
			}
			return in.apply(base, prefix)
		}}
}

// checkSyncItem checks a sync item's links against the project and the ID
// of a breaker it creates. p.mu is held.
func (p *project) checkSyncItem(prefix string, it breakerItem, existing *breaker, _ breakerSpec) *apiError {
	if it.linksGiven {
		if err := p.checkRouterIDs(prefix+"router_ids", it.links); err != nil {
			return err
		}
	}
	if existing == nil && it.id != "" && !idPattern.MatchString(it.id) {
		return fieldErr(prefix+"id", "must be 1 to 64 letters, digits, '_' or '-'")
	}
	return nil
}

// decodeSyncBody reads the breakers of a sync request: a JSON array, or
// {"breakers": […]}.
func decodeSyncBody(body []byte) ([]breakerInput, error) {
	var raws []json.RawMessage
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := unmarshalBody(body, &raws, false); err != nil {
			return nil, err
		}
	} else {
		var doc struct {
			Breakers *[]json.RawMessage `json:"breakers"`
		}
		if err := unmarshalBody(body, &doc, false); err != nil {
			return nil, err
		}
		if doc.Breakers == nil {
			return nil, fieldErr("breakers", "is required (send [] to delete every breaker)")
		}
		raws = *doc.Breakers
	}
	if len(raws) > maxSyncBreakers {
		return nil, fieldErr("breakers", "must list at most %d breakers", maxSyncBreakers)
	}
	ins := make([]breakerInput, len(raws))
	for i, raw := range raws {
		ins[i].raw = raw
		if err := ins[i].breakerFields.unmarshal(raw); err != nil {
			item := "breakers[" + strconv.Itoa(i) + "]"
			ae := jsonError(err)
			if ae.Field == "" {
				return nil, fieldErr(item, "must be a breaker object")
			}
			ae.Field = item + "." + ae.Field
			ae.Message = item + "." + ae.Message
			return nil, ae
		}
	}
	return ins, nil
}
