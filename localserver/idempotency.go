package localserver

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"sync"
	"time"
)

// Idempotency records are kept for idempotencyTTL, at most maxIdempotencyKeys
// of them (the oldest are forgotten first).
const (
	idempotencyTTL     = 24 * time.Hour
	maxIdempotencyKeys = 10_000
	maxIdempotencyKey  = 255
)

type idemRecord struct {
	bodyHash    [sha256.Size]byte
	done        bool
	status      int
	contentType string
	body        []byte
	at          time.Time
}

// idempotencyStore remembers responses of POST requests that carried an
// Idempotency-Key, scoped by credential, method and path.
type idempotencyStore struct {
	mu    sync.Mutex
	recs  map[string]*idemRecord
	order []string // insertion order, for eviction
}

func newIdempotencyStore() *idempotencyStore {
	return &idempotencyStore{recs: map[string]*idemRecord{}}
}

// idempotent runs h once per (scope, method, path, key) and body: a repeat
// with the same body replays the stored response; a repeat with another body
// is 422; a repeat while the first is still running is 409. Server errors
// (5xx) are not remembered, so the request can be retried.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, scope string, h func(http.ResponseWriter, *http.Request) error) {
	s.idempotentUpTo(w, r, scope, maxAdminBody, h)
}

// idempotentUpTo is idempotent for bodies of at most limit bytes.
func (s *Server) idempotentUpTo(w http.ResponseWriter, r *http.Request, scope string, limit int64, h func(http.ResponseWriter, *http.Request) error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		writeError(w, errf(http.StatusBadRequest, codeBadRequest, "Idempotency-Key must be at most %d characters", maxIdempotencyKey))
		return
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	sum := sha256.Sum256(body)
	id := scope + "\x00" + r.Method + "\x00" + r.URL.Path + "\x00" + key
	now := s.now()

	st := s.idem
	st.mu.Lock()
	st.expire(now)
	if rec, ok := st.recs[id]; ok {
		st.mu.Unlock()
		switch {
		case rec.bodyHash != sum:
			writeError(w, errf(http.StatusUnprocessableEntity, codeIdemReused, "Idempotency-Key was already used with a different request body"))
		case !rec.done:
			writeError(w, errf(http.StatusConflict, codeIdemInProgress, "a request with this Idempotency-Key is still being processed"))
		default:
			w.Header().Set("Idempotent-Replayed", "true")
			if rec.contentType != "" {
				w.Header().Set("Content-Type", rec.contentType)
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body)
		}
		return
	}
	rec := &idemRecord{bodyHash: sum, at: now}
	st.recs[id] = rec
	st.order = append(st.order, id)
	st.mu.Unlock()

	r.Body = io.NopCloser(bytes.NewReader(body))
	rw := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
	if err := h(rw, r); err != nil {
		writeError(rw, err)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	if rw.status >= 500 {
		delete(st.recs, id)
		return
	}
	rec.done = true
	rec.status = rw.status
	rec.contentType = rw.Header().Get("Content-Type")
	rec.body = rw.buf.Bytes()
}

// expire forgets old records; st.mu is held.
func (st *idempotencyStore) expire(now time.Time) {
	drop := 0
	for drop < len(st.order) {
		rec, ok := st.recs[st.order[drop]]
		if ok && rec.done && now.Sub(rec.at) < idempotencyTTL && len(st.order)-drop <= maxIdempotencyKeys {
			break
		}
		if ok && !rec.done && len(st.order)-drop <= maxIdempotencyKeys {
			break
		}
		delete(st.recs, st.order[drop])
		drop++
	}
	if drop > 0 {
		st.order = append(st.order[:0], st.order[drop:]...)
	}
}

// recordingWriter passes a response through and keeps a copy of it.
type recordingWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (rw *recordingWriter) WriteHeader(code int) {
	if !rw.wrote {
		rw.status = code
		rw.wrote = true
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recordingWriter) Write(b []byte) (int, error) {
	rw.wrote = true
	rw.buf.Write(b)
	return rw.ResponseWriter.Write(b)
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (rw *recordingWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
