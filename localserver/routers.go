package localserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

var routerModes = []string{"static", "canary", "weighted"}

type routerJSON struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	Mode         string            `json:"mode"`
	Enabled      bool              `json:"enabled"`
	BreakerCount int               `json:"breaker_count"`
	Breakers     []breakerJSON     `json:"breakers"`
	InsertedAt   string            `json:"inserted_at"`
	UpdatedAt    string            `json:"updated_at"`
	CreatedBy    string            `json:"created_by"`
	Metadata     map[string]string `json:"metadata"`
}

// routerView renders rt with its linked breakers; p.mu is held.
func routerView(p *project, rt *router) routerJSON {
	bs := p.routerBreakers(rt.ID)
	views := make([]breakerJSON, len(bs))
	for i, b := range bs {
		views[i] = breakerView(b)
	}
	md := rt.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return routerJSON{ID: rt.ID, Name: rt.Name, Description: rt.Description, Mode: rt.Mode, Enabled: rt.Enabled,
		BreakerCount: len(bs), Breakers: views, InsertedAt: fmtTime(rt.InsertedAt), UpdatedAt: fmtTime(rt.UpdatedAt),
		CreatedBy: rt.CreatedBy, Metadata: md}
}

func (s *Server) writeRouter(w http.ResponseWriter, status int, v routerJSON) {
	if s.cfg.BareResponses {
		writeJSON(w, status, v)
		return
	}
	writeJSON(w, status, map[string]any{"router": v})
}

type routerInput struct {
	ID          *string            `json:"id"`
	Name        *string            `json:"name"`
	Description *string            `json:"description"`
	Mode        *string            `json:"mode"`
	Enabled     *bool              `json:"enabled"`
	Metadata    *map[string]string `json:"metadata"`
}

func unmarshalRouterInput(b []byte, allowEmpty bool) (routerInput, error) {
	var in routerInput
	var wrapped struct {
		Router json.RawMessage `json:"router"`
	}
	if err := unmarshalBody(b, &wrapped, allowEmpty); err == nil && isObject(wrapped.Router) {
		b = wrapped.Router
	}
	err := unmarshalBody(b, &in, allowEmpty)
	return in, err
}

// apply overlays in on rt (a copy is returned) and validates the result.
func (in routerInput) apply(rt router) (router, *apiError) {
	if in.Name != nil {
		rt.Name = *in.Name
	}
	if in.Description != nil {
		rt.Description = *in.Description
	}
	if in.Mode != nil {
		rt.Mode = *in.Mode
	}
	if in.Enabled != nil {
		rt.Enabled = *in.Enabled
	}
	if in.Metadata != nil {
		rt.Metadata = cloneStringMap(*in.Metadata)
	}
	if rt.Mode == "" {
		rt.Mode = "static"
	}
	if err := checkName("name", rt.Name); err != nil {
		return rt, err
	}
	if err := checkText("description", rt.Description, maxDescriptionLen); err != nil {
		return rt, err
	}
	if !slices.Contains(routerModes, rt.Mode) {
		return rt, fieldErr("mode", "must be one of static, canary, weighted (got %q)", truncate(rt.Mode, 40))
	}
	if err := checkMetadata("metadata", rt.Metadata); err != nil {
		return rt, err
	}
	if rt.Metadata == nil {
		rt.Metadata = map[string]string{}
	}
	return rt, nil
}

func (s *Server) listRouters(w http.ResponseWriter, r *http.Request, p *project) error {
	pg, perr := parsePage(r.URL.Query())
	if perr != nil {
		return perr
	}
	p.mu.Lock()
	all := p.sortedRouters()
	items, next := paginate(all, func(rt *router) uint64 { return rt.seq }, pg)
	out := make([]routerJSON, len(items))
	for i, rt := range items {
		out[i] = routerView(p, rt)
	}
	total := len(all)
	p.mu.Unlock()
	resp := map[string]any{"routers": out, "count": total}
	if next != "" {
		resp["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) createRouter(w http.ResponseWriter, r *http.Request, p *project) error {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	in, err := unmarshalRouterInput(body, false)
	if err != nil {
		return err
	}
	rt, aerr := in.apply(router{Enabled: true})
	if aerr != nil {
		return aerr
	}
	id := deref(in.ID)
	if id != "" && !idPattern.MatchString(id) {
		return fieldErr("id", "must be 1 to 64 letters, digits, '_' or '-'")
	}
	s.mu.RLock()
	createdBy := s.org.AdminKeyID
	s.mu.RUnlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return notFound("project", p.ID)
	}
	if id != "" && p.routers[id] != nil {
		return errf(http.StatusConflict, codeConflict, "a router with ID %q already exists", id)
	}
	nr := s.newRouterLocked(p, id, rt, createdBy, s.now())
	s.markDirty()
	s.writeRouter(w, http.StatusCreated, routerView(p, nr))
	return nil
}

// newRouterLocked adds a validated router; p.mu is held.
func (s *Server) newRouterLocked(p *project, id string, rt router, createdBy string, now time.Time) *router {
	if id == "" {
		id = newID("rtr_")
	}
	nr := rt
	nr.seq = s.nextSeq()
	nr.ID = id
	nr.InsertedAt = now
	nr.UpdatedAt = now
	nr.CreatedBy = createdBy
	p.routers[id] = &nr
	return &nr
}

func (s *Server) getRouter(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("router_id")
	p.mu.Lock()
	rt := p.routers[id]
	if rt == nil {
		p.mu.Unlock()
		return notFound("router", id)
	}
	v := routerView(p, rt)
	p.mu.Unlock()
	s.writeRouter(w, http.StatusOK, v)
	return nil
}

func (s *Server) updateRouter(w http.ResponseWriter, r *http.Request, p *project) error {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	in, err := unmarshalRouterInput(body, true)
	if err != nil {
		return err
	}
	id := r.PathValue("router_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.routers[id]
	if rt == nil {
		return notFound("router", id)
	}
	nr, aerr := in.apply(*rt)
	if aerr != nil {
		return aerr
	}
	nr.UpdatedAt = s.now()
	*rt = nr
	s.markDirty()
	s.writeRouter(w, http.StatusOK, routerView(p, rt))
	return nil
}

func (s *Server) deleteRouter(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("router_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.routers[id]
	if rt == nil {
		return notFound("router", id)
	}
	if n := len(p.routerBreakers(id)); n > 0 {
		return errf(http.StatusConflict, codeRouterHasBreakers, "router %q still has %d linked breaker(s); unlink them first", id, n)
	}
	delete(p.routers, id)
	p.rebuildIndex()
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) linkBreakers(w http.ResponseWriter, r *http.Request, p *project) error {
	var in struct {
		BreakerIDs []string `json:"breaker_ids"`
		BreakerID  string   `json:"breaker_id"`
	}
	if err := decodeJSON(w, r, &in, false); err != nil {
		return err
	}
	ids := slices.Clone(in.BreakerIDs)
	if in.BreakerID != "" {
		ids = append(ids, in.BreakerID)
	}
	if len(ids) == 0 {
		return fieldErr("breaker_ids", "is required: send {\"breaker_ids\": [...]} or {\"breaker_id\": \"...\"}")
	}
	if len(ids) > maxLinkIDs {
		return fieldErr("breaker_ids", "must list at most %d breakers", maxLinkIDs)
	}
	id := r.PathValue("router_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.routers[id]
	if rt == nil {
		return notFound("router", id)
	}
	bs := make([]*breaker, 0, len(ids))
	for _, bid := range ids {
		b := p.findBreaker(bid)
		if b == nil {
			return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Field: "breaker_ids",
				Message: "breaker_ids: no breaker " + quote(bid) + " in this project"}
		}
		bs = append(bs, b)
	}
	now := s.now()
	for _, b := range bs {
		if !slices.Contains(b.routerIDs, id) {
			b.routerIDs = append(slices.Clone(b.routerIDs), id)
			b.UpdatedAt = now
		}
	}
	p.configChangedAt = now
	p.rebuildIndex()
	s.markDirty()
	s.writeRouter(w, http.StatusOK, routerView(p, rt))
	return nil
}

func (s *Server) unlinkBreaker(w http.ResponseWriter, r *http.Request, p *project) error {
	rid, bid := r.PathValue("router_id"), r.PathValue("breaker_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.routers[rid] == nil {
		return notFound("router", rid)
	}
	b := p.findBreaker(bid)
	if b == nil {
		return notFound("breaker", bid)
	}
	i := slices.Index(b.routerIDs, rid)
	if i < 0 {
		return errf(http.StatusNotFound, codeNotFound, "breaker %q is not linked to router %q", truncate(bid, 80), truncate(rid, 80))
	}
	b.routerIDs = slices.Delete(slices.Clone(b.routerIDs), i, i+1)
	b.UpdatedAt = s.now()
	p.configChangedAt = b.UpdatedAt
	p.rebuildIndex()
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) patchRouterMetadata(w http.ResponseWriter, r *http.Request, p *project) error {
	mp, err := decodeMetadataPatch(w, r)
	if err != nil {
		return err
	}
	id := r.PathValue("router_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.routers[id]
	if rt == nil {
		return notFound("router", id)
	}
	md := mp.merge(rt.Metadata)
	if err := checkMetadata("metadata", md); err != nil {
		return err
	}
	rt.Metadata = md
	rt.UpdatedAt = s.now()
	s.markDirty()
	writeJSON(w, http.StatusOK, map[string]any{"id": rt.ID, "metadata": md})
	return nil
}

func quote(s string) string {
	b, _ := json.Marshal(truncate(s, 80))
	return string(b)
}
