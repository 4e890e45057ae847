package localserver

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// bearer extracts the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errf(http.StatusUnauthorized, codeUnauthorized, "missing Authorization header; send \"Authorization: Bearer <key>\"")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", errf(http.StatusUnauthorized, codeUnauthorized, "Authorization header must be \"Bearer <key>\"")
	}
	return strings.TrimSpace(tok), nil
}

// authAdmin accepts only the organisation's admin key: a project key is 403,
// anything else 401.
func (s *Server) authAdmin(r *http.Request) (scope string, err *apiError) {
	tok, err := bearer(r)
	if err != nil {
		return "", err
	}
	h := hashKey(tok)
	s.mu.RLock()
	admin := s.org.adminHash
	adminID := s.org.AdminKeyID
	_, isProjectKey := s.keyIndex[h]
	s.mu.RUnlock()
	if subtle.ConstantTimeCompare(h[:], admin[:]) == 1 {
		return "admin:" + adminID, nil
	}
	if isProjectKey {
		return "", errf(http.StatusForbidden, codeForbidden, "project keys cannot use the management API; use the admin key")
	}
	return "", errf(http.StatusUnauthorized, codeUnauthorized, "invalid API key")
}

// authProject accepts only a project key of project pid: a key of another
// project or the admin key is 403, anything else 401.
func (s *Server) authProject(r *http.Request, pid string) (*project, string, *apiError) {
	tok, err := bearer(r)
	if err != nil {
		return nil, "", err
	}
	h := hashKey(tok)
	s.mu.RLock()
	ref, ok := s.keyIndex[h]
	admin := s.org.adminHash
	s.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(ref.key.key)) != 1 {
		if !ok && subtle.ConstantTimeCompare(h[:], admin[:]) == 1 {
			return nil, "", errf(http.StatusForbidden, codeForbidden, "this endpoint takes a project key, not the admin key")
		}
		return nil, "", errf(http.StatusUnauthorized, codeUnauthorized, "invalid API key")
	}
	if ref.project.ID != pid {
		return nil, "", errf(http.StatusForbidden, codeForbidden, "this project key does not belong to project %q", truncate(pid, 80))
	}
	ref.key.lastUsedMs.Store(s.nowMs())
	return ref.project, "key:" + ref.key.ID, nil
}

// admin wraps a management API handler: admin key, rate limit, then
// Idempotency-Key handling for POST.
func (s *Server) admin(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scope, aerr := s.authAdmin(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if err := s.limiter.allow(scope, s.now()); err != nil {
			writeError(w, err)
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
			s.idempotent(w, r, scope, h)
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	}
}

// adminProject is admin plus the lookup of the {project_id} path value.
func (s *Server) adminProject(h func(w http.ResponseWriter, r *http.Request, p *project) error) http.HandlerFunc {
	return s.admin(func(w http.ResponseWriter, r *http.Request) error {
		pid := r.PathValue("project_id")
		p := s.project(pid)
		if p == nil {
			return notFound("project", pid)
		}
		return h(w, r, p)
	})
}

// runtime wraps an endpoint of the runtime API (project key).
func (s *Server) runtime(h func(w http.ResponseWriter, r *http.Request, p *project) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, scope, aerr := s.authProject(r, r.PathValue("project_id"))
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if err := s.limiter.allow(scope, s.now()); err != nil {
			writeError(w, err)
			return
		}
		if err := h(w, r, p); err != nil {
			writeError(w, err)
		}
	}
}
