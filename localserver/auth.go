package localserver

import (
	"context"
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
func (s *Server) authProject(r *http.Request, pid string) (*project, *projectKey, *apiError) {
	tok, err := bearer(r)
	if err != nil {
		return nil, nil, err
	}
	h := hashKey(tok)
	s.mu.RLock()
	ref, ok := s.keyIndex[h]
	admin := s.org.adminHash
	s.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(ref.key.key)) != 1 {
		if !ok && subtle.ConstantTimeCompare(h[:], admin[:]) == 1 {
			return nil, nil, errf(http.StatusForbidden, codeForbidden, "this endpoint takes a project key, not the admin key")
		}
		return nil, nil, errf(http.StatusUnauthorized, codeUnauthorized, "invalid API key")
	}
	if ref.project.ID != pid {
		return nil, nil, errf(http.StatusForbidden, codeForbidden, "this project key does not belong to project %q", truncate(pid, 80))
	}
	ref.key.lastUsedMs.Store(s.nowMs())
	return ref.project, ref.key, nil
}

// keyContext carries the project key that authenticated a runtime request.
type keyContext struct{}

// requestKey returns the project key that authenticated r, or nil.
func requestKey(r *http.Request) *projectKey {
	k, _ := r.Context().Value(keyContext{}).(*projectKey)
	return k
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
		if s.cfg.SyncWrites && s.cfg.DataFile != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.durably(w, func(w http.ResponseWriter) { s.serveAdmin(w, r, scope, h) })
			return
		}
		s.serveAdmin(w, r, scope, h)
	}
}

// serveAdmin runs an authenticated management API handler, with
// Idempotency-Key handling for POST.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request, scope string, h func(w http.ResponseWriter, r *http.Request) error) {
	if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
		s.idempotent(w, r, scope, h)
		return
	}
	if err := h(w, r); err != nil {
		writeError(w, err)
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
		p, key, aerr := s.authProject(r, r.PathValue("project_id"))
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if err := s.limiter.allow("key:"+key.ID, s.now()); err != nil {
			writeError(w, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), keyContext{}, key))
		if err := h(w, r, p); err != nil {
			writeError(w, err)
		}
	}
}

// reader wraps an endpoint that reads breaker state: it takes the admin key
// or a project key of the project in the path, as the published SDKs do.
func (s *Server) reader(h func(w http.ResponseWriter, r *http.Request, p *project) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pid := r.PathValue("project_id")
		scope, aerr := s.authAdmin(r)
		var p *project
		if aerr == nil {
			if p = s.project(pid); p == nil {
				writeError(w, notFound("project", pid))
				return
			}
		} else if aerr.Status == http.StatusForbidden { // a project key
			var key *projectKey
			if p, key, aerr = s.authProject(r, pid); aerr != nil {
				writeError(w, aerr)
				return
			}
			scope = "key:" + key.ID
		} else {
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
