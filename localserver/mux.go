package localserver

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// methods dispatches one path by HTTP method and answers 405 with Allow for
// the others.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := m[r.Method]
	if h == nil && r.Method == http.MethodHead {
		h = m[http.MethodGet]
	}
	if h == nil {
		allow := make([]string, 0, len(m))
		for k := range m {
			allow = append(allow, k)
		}
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, errf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s is not allowed here", r.Method))
		return
	}
	h(w, r)
}

func (s *Server) mux() http.Handler {
	mux := http.NewServeMux()
	const p = "/v1/projects/{project_id}"

	mux.Handle("/v1/workspaces", methods{
		http.MethodGet:  s.admin(s.listWorkspaces),
		http.MethodPost: s.admin(s.createWorkspace),
	})
	mux.Handle("/v1/workspaces/{workspace_id}", methods{
		http.MethodGet:    s.admin(s.getWorkspace),
		http.MethodPatch:  s.admin(s.updateWorkspace),
		http.MethodDelete: s.admin(s.deleteWorkspace),
	})

	mux.Handle("/v1/projects", methods{
		http.MethodGet:  s.admin(s.listProjects),
		http.MethodPost: s.admin(s.createProject),
	})
	mux.Handle(p, methods{
		http.MethodGet:    s.adminProject(s.getProject),
		http.MethodPatch:  s.adminProject(s.updateProject),
		http.MethodDelete: s.adminProject(s.deleteProject),
	})
	mux.Handle(p+"/ingest_secret/rotate", methods{http.MethodPost: s.adminProject(s.rotateSecret)})
	mux.Handle(p+"/keys", methods{
		http.MethodGet:  s.adminProject(s.listKeys),
		http.MethodPost: s.adminProject(s.createKey),
	})
	mux.Handle(p+"/keys/{key_id}", methods{http.MethodDelete: s.adminProject(s.deleteKey)})

	mux.Handle(p+"/breakers", methods{
		http.MethodGet:  s.adminProject(s.listBreakers),
		http.MethodPost: s.adminProject(s.createBreaker),
		http.MethodPut:  s.adminProject(s.syncBreakers),
	})
	mux.Handle(p+"/breakers/state:stream", methods{http.MethodGet: s.runtime(s.stream)})
	mux.Handle(p+"/breakers/state:batch", methods{http.MethodPost: s.reader(s.batchState)})
	mux.Handle(p+"/breakers/metadata", methods{http.MethodGet: s.runtime(s.breakersMetadata)})
	mux.Handle(p+"/breakers/{breaker_id}", methods{
		http.MethodGet:    s.adminProject(s.getBreaker),
		http.MethodPatch:  s.adminProject(s.updateBreaker),
		http.MethodDelete: s.adminProject(s.deleteBreaker),
	})
	mux.Handle(p+"/breakers/{breaker_id}/state", methods{http.MethodGet: s.reader(s.breakerState)})
	mux.Handle(p+"/breakers/{breaker_id}/metadata", methods{http.MethodPatch: s.adminProject(s.patchBreakerMetadata)})

	mux.Handle(p+"/routers", methods{
		http.MethodGet:  s.adminProject(s.listRouters),
		http.MethodPost: s.adminProject(s.createRouter),
	})
	mux.Handle(p+"/routers/metadata", methods{http.MethodGet: s.runtime(s.routersMetadata)})
	mux.Handle(p+"/routers/{router_id}", methods{
		http.MethodGet:    s.adminProject(s.getRouter),
		http.MethodPatch:  s.adminProject(s.updateRouter),
		http.MethodDelete: s.adminProject(s.deleteRouter),
	})
	mux.Handle(p+"/routers/{router_id}/breakers", methods{http.MethodPost: s.adminProject(s.linkBreakers)})
	mux.Handle(p+"/routers/{router_id}/breakers/{breaker_id}", methods{http.MethodDelete: s.adminProject(s.unlinkBreaker)})
	mux.Handle(p+"/routers/{router_id}/metadata", methods{http.MethodPatch: s.adminProject(s.patchRouterMetadata)})

	mux.Handle(p+"/notification-channels", methods{
		http.MethodGet:  s.adminProject(s.listChannels),
		http.MethodPost: s.adminProject(s.createChannel),
	})
	mux.Handle(p+"/notification-channels/{channel_id}", methods{
		http.MethodGet:    s.adminProject(s.getChannel),
		http.MethodPatch:  s.adminProject(s.updateChannel),
		http.MethodDelete: s.adminProject(s.deleteChannel),
	})
	mux.Handle(p+"/notification-channels/{channel_id}/test", methods{http.MethodPost: s.adminProject(s.testChannel)})

	mux.Handle(p+"/events", methods{http.MethodGet: s.adminProject(s.listEvents)})
	mux.Handle(p+"/status", methods{http.MethodGet: s.runtime(s.status)})
	mux.Handle(p+"/ingest", methods{http.MethodPost: s.ingest})

	s.mountLocalExtensions(mux, p)
	s.mountConsole(mux)

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errf(http.StatusNotFound, codeNotFound, "no such endpoint: %s %s", r.Method, truncate(r.URL.Path, 200)))
	})
	return s.recoverer(requestID(s.accessLog(mux)))
}

// accessLog logs each request at debug level: method, path, status and
// duration. Paths hold IDs only; credentials travel in headers, which are
// not logged.
func (s *Server) accessLog(next http.Handler) http.Handler {
	if !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration", time.Since(start), "request_id", w.Header().Get("X-Request-ID"))
	})
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// state streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID echoes a well-formed X-Request-ID or generates one, on every
// response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = "req_" + randomHex(12)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r)
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// recoverer answers 500 instead of letting a handler panic reach the
// connection. The panic value is not logged: it could hold request data.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path)
				writeError(w, errf(http.StatusInternalServerError, codeInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
