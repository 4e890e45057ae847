package localserver

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

type workspaceJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Slug       string `json:"slug"`
	OrgID      string `json:"org_id"`
	InsertedAt string `json:"inserted_at"`
}

func (s *Server) workspaceJSON(w *workspace) workspaceJSON {
	return workspaceJSON{ID: w.ID, Name: w.Name, Slug: w.Slug, OrgID: s.org.ID, InsertedAt: fmtTime(w.InsertedAt)}
}

// uniqueSlugLocked returns base, or base with a numeric suffix, unused by any
// workspace; s.mu is held.
func (s *Server) uniqueSlugLocked(base string) string {
	taken := func(slug string) bool {
		for _, w := range s.workspaces {
			if w.Slug == slug {
				return true
			}
		}
		return false
	}
	if !taken(base) {
		return base
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		b := base
		if len(b)+len(suffix) > maxSlugLen {
			b = b[:maxSlugLen-len(suffix)]
		}
		if !taken(b + suffix) {
			return b + suffix
		}
	}
}

func (s *Server) listWorkspaces(w http.ResponseWriter, r *http.Request) error {
	s.mu.RLock()
	list := make([]*workspace, 0, len(s.workspaces))
	for _, ws := range s.workspaces {
		list = append(list, ws)
	}
	slices.SortFunc(list, func(a, b *workspace) int { return cmpSeq(a.seq, b.seq) })
	out := make([]workspaceJSON, len(list))
	for i, ws := range list {
		out[i] = s.workspaceJSON(ws)
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"workspaces": out})
	return nil
}

type workspaceInput struct {
	Name *string `json:"name"`
	Slug *string `json:"slug"`
}

func (s *Server) createWorkspace(w http.ResponseWriter, r *http.Request) error {
	var in workspaceInput
	if err := decodeJSON(w, r, &in, false); err != nil {
		return err
	}
	name := deref(in.Name)
	if err := checkName("name", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var slug string
	if in.Slug != nil && *in.Slug != "" {
		slug = *in.Slug
		if err := checkSlug(slug); err != nil {
			return err
		}
		if s.slugTakenLocked(slug, "") {
			return errf(http.StatusConflict, codeConflict, "slug %q is already used by another workspace", slug)
		}
	} else {
		slug = s.uniqueSlugLocked(slugify(name))
	}
	ws := &workspace{seq: s.nextSeq(), ID: newID("ws_"), Name: name, Slug: slug, InsertedAt: s.now()}
	s.workspaces[ws.ID] = ws
	s.markDirty()
	writeJSON(w, http.StatusCreated, s.workspaceJSON(ws))
	return nil
}

func (s *Server) slugTakenLocked(slug, except string) bool {
	for _, w := range s.workspaces {
		if w.Slug == slug && w.ID != except {
			return true
		}
	}
	return false
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("workspace_id")
	s.mu.RLock()
	defer s.mu.RUnlock()
	ws := s.workspaces[id]
	if ws == nil {
		return notFound("workspace", id)
	}
	writeJSON(w, http.StatusOK, s.workspaceJSON(ws))
	return nil
}

func (s *Server) updateWorkspace(w http.ResponseWriter, r *http.Request) error {
	var in workspaceInput
	if err := decodeJSON(w, r, &in, true); err != nil {
		return err
	}
	id := r.PathValue("workspace_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.workspaces[id]
	if ws == nil {
		return notFound("workspace", id)
	}
	if in.Name != nil {
		if err := checkName("name", *in.Name); err != nil {
			return err
		}
	}
	if in.Slug != nil {
		if err := checkSlug(*in.Slug); err != nil {
			return err
		}
		if s.slugTakenLocked(*in.Slug, ws.ID) {
			return errf(http.StatusConflict, codeConflict, "slug %q is already used by another workspace", *in.Slug)
		}
	}
	if in.Name != nil {
		ws.Name = *in.Name
	}
	if in.Slug != nil {
		ws.Slug = *in.Slug
	}
	s.markDirty()
	writeJSON(w, http.StatusOK, s.workspaceJSON(ws))
	return nil
}

func (s *Server) deleteWorkspace(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("workspace_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.workspaces[id]
	if ws == nil {
		return notFound("workspace", id)
	}
	n := 0
	for _, p := range s.projects {
		p.mu.Lock()
		if p.WorkspaceID == id {
			n++
		}
		p.mu.Unlock()
	}
	if n > 0 {
		return errf(http.StatusConflict, codeWorkspaceNotEmpty, "workspace %q still has %d project(s); delete them first", id, n)
	}
	delete(s.workspaces, id)
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
