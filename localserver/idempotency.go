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
// of them per credential (the oldest are forgotten first).
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
// Idempotency-Key. Records are scoped by credential: only authenticated
// requests reach the store, and one credential's records never evict
// another's.
type idempotencyStore struct {
	mu     sync.Mutex
	scopes map[string]*idemScope
}

// idemScope holds the records of one credential.
type idemScope struct {
	recs  map[string]*idemRecord
	order []string // insertion order, for eviction
}

func newIdempotencyStore() *idempotencyStore {
	return &idempotencyStore{scopes: map[string]*idemScope{}}
}

// idempotent reads the body of an authenticated management API request and
// runs h once per (scope, method, path, key) and body; see run.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, scope string, h func(http.ResponseWriter, *http.Request) error) {
	if len(r.Header.Get("Idempotency-Key")) > maxIdempotencyKey {
		writeError(w, errf(http.StatusBadRequest, codeBadRequest, "Idempotency-Key must be at most %d characters", maxIdempotencyKey))
		return
	}
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		writeError(w, err)
		return
	}
	s.idem.run(w, r, scope, body, s.now(), func(w http.ResponseWriter) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	})
}

// run answers an authenticated request that carries an Idempotency-Key,
// under the credential's scope: the first request with a key runs h; a
// repeat with the same body replays the stored response; a repeat with
// another body is 422; a repeat while the first is still running is 409.
// Server errors (5xx) are not remembered, so the request can be retried.
func (st *idempotencyStore) run(w http.ResponseWriter, r *http.Request, scope string, body []byte, now time.Time, h func(http.ResponseWriter)) {
	sum := sha256.Sum256(body)
	id := r.Method + "\x00" + r.URL.Path + "\x00" + r.Header.Get("Idempotency-Key")

	st.mu.Lock()
	st.expire(now)
	sc := st.scopes[scope]
	if sc == nil {
		sc = &idemScope{recs: map[string]*idemRecord{}}
		st.scopes[scope] = sc
	}
	if rec, ok := sc.recs[id]; ok {
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
	sc.recs[id] = rec
	sc.order = append(sc.order, id)
	st.mu.Unlock()

	rw := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
	h(rw)

	st.mu.Lock()
	defer st.mu.Unlock()
	if rw.status >= 500 {
		delete(sc.recs, id)
		return
	}
	rec.done = true
	rec.status = rw.status
	rec.contentType = rw.Header().Get("Content-Type")
	rec.body = rw.buf.Bytes()
}

// expire forgets old records and empty scopes; st.mu is held.
func (st *idempotencyStore) expire(now time.Time) {
	for name, sc := range st.scopes {
		sc.expire(now)
		if len(sc.order) == 0 {
			delete(st.scopes, name)
		}
	}
}

// expire forgets the scope's records that are older than idempotencyTTL or
// beyond maxIdempotencyKeys, oldest first.
func (sc *idemScope) expire(now time.Time) {
	drop := 0
	for drop < len(sc.order) {
		rec, ok := sc.recs[sc.order[drop]]
		over := len(sc.order)-drop > maxIdempotencyKeys
		if ok && !over && (!rec.done || now.Sub(rec.at) < idempotencyTTL) {
			break
		}
		delete(sc.recs, sc.order[drop])
		drop++
	}
	if drop > 0 {
		sc.order = append(sc.order[:0], sc.order[drop:]...)
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
