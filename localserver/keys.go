package localserver

import (
	"net/http"
	"slices"
	"time"
)

type keyJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	KeyPrefix  string `json:"key_prefix"`
	LastUsedAt string `json:"last_used_at,omitempty"`
	InsertedAt string `json:"inserted_at"`
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, p *project) error {
	p.mu.Lock()
	out := make([]keyJSON, 0, len(p.keys))
	for _, k := range p.keys {
		j := keyJSON{ID: k.ID, Name: k.Name, KeyPrefix: keyPrefixOf(k.key), InsertedAt: fmtTime(k.InsertedAt)}
		if ms := k.lastUsedMs.Load(); ms != 0 {
			j.LastUsedAt = fmtTime(time.UnixMilli(ms))
		}
		out = append(out, j)
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": out, "count": len(out)})
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, p *project) error {
	var in struct {
		Name *string `json:"name"`
	}
	if err := decodeJSON(w, r, &in, true); err != nil {
		return err
	}
	name := deref(in.Name)
	if name == "" {
		name = "key"
	}
	if err := checkName("name", name); err != nil {
		return err
	}
	s.mu.Lock()
	if s.projects[p.ID] != p {
		s.mu.Unlock()
		return notFound("project", p.ID)
	}
	k := s.addKeyLocked(p, name, newProjectKey(), s.now())
	s.mu.Unlock()
	s.markDirty()
	writeJSON(w, http.StatusCreated, map[string]string{
		"id": k.ID, "name": k.Name, "key": k.key, "key_prefix": keyPrefixOf(k.key),
		"message": "Store this key now: it is not shown again.",
	})
	return nil
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("key_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	p.mu.Lock()
	i := slices.IndexFunc(p.keys, func(k *projectKey) bool { return k.ID == id })
	if i < 0 {
		p.mu.Unlock()
		return notFound("key", id)
	}
	k := p.keys[i]
	p.keys = slices.Delete(p.keys, i, i+1)
	p.closeKeySubscribersLocked(k)
	p.mu.Unlock()
	delete(s.keyIndex, k.hash)
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// NewProjectKey creates a project key named name for project projectID and
// returns it.
func (s *Server) NewProjectKey(projectID, name string) (string, error) {
	if name == "" {
		name = "key"
	}
	if err := checkName("name", name); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return "", notFound("project", projectID)
	}
	k := s.addKeyLocked(p, name, newProjectKey(), s.now())
	s.markDirty()
	return k.key, nil
}

// IngestSecret returns the current ingest secret (64 hex characters) of
// project projectID.
func (s *Server) IngestSecret(projectID string) (string, error) {
	p := s.project(projectID)
	if p == nil {
		return "", notFound("project", projectID)
	}
	return p.secret.Load().hex, nil
}
