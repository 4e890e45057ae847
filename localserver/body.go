package localserver

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// withBodyDeadline gives every request that has a body BodyReadTimeout to
// send it, counted from the moment its handler starts. The deadline is
// lifted once the body has been read to its end, so that long handlers
// (and the connection's next request) are unaffected.
func (s *Server) withBodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// bodyReadError turns an error of reading a request body into the answer:
// 413 from tooLarge when a size limit was hit, 408 when the body did not
// arrive within BodyReadTimeout (the connection is then closed), 400
// otherwise.
func bodyReadError(w http.ResponseWriter, err error, tooLarge func() *apiError) *apiError {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		return errf(http.StatusRequestTimeout, codeRequestTimeout, "request body was not received in time")
	}
	return errf(http.StatusBadRequest, codeBadRequest, "reading request body failed")
}

// pendingBodies bounds the ingest bodies that are read before their
// signature can be checked, in number and in reserved bytes, so that
// requests without valid credentials cannot hold memory without bound.
type pendingBodies struct {
	mu       sync.Mutex
	n, maxN  int
	bytes    int64
	maxBytes int64
}

func newPendingBodies(maxN int, maxBytes int64) *pendingBodies {
	return &pendingBodies{maxN: maxN, maxBytes: maxBytes}
}

// acquire reserves size bytes for one body, or reports that there is no
// room: the caller answers 503 with Retry-After.
func (g *pendingBodies) acquire(size int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n >= g.maxN || g.bytes+size > g.maxBytes {
		return false
	}
	g.n++
	g.bytes += size
	return true
}

func (g *pendingBodies) release(size int64) {
	g.mu.Lock()
	g.n--
	g.bytes -= size
	g.mu.Unlock()
}

// busy is the answer to a request that found no room among the pending
// bodies.
func busy() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: codeBusy, RetryAfter: time.Second,
		Message: "too many ingest bodies are being received; retry later"}
}
