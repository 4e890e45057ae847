package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestErrorBodyIsReadWithALimit(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(500)
		// A valid JSON document, but far larger than the limit.
		_, _ = io.WriteString(w, `{"code":"boom","message":"`+huge+`"}`)
	})
	c, _ := newTestClient(t, f.URL, WithoutRetries())
	_, err := c.ListWorkspaces(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrServerFault) {
		t.Fatalf("err = %v", err)
	}
	// Truncated JSON cannot be parsed: the message is a short excerpt.
	if len(apiErr.Message) > maxExcerptLen || !strings.HasPrefix(apiErr.Message, `{"code":"boom"`) {
		t.Errorf("message of %d bytes: %.80q", len(apiErr.Message), apiErr.Message)
	}
	if len(err.Error()) > 1024 {
		t.Errorf("Error() is %d bytes long", len(err.Error()))
	}
}

func TestLongErrorFieldsAreCut(t *testing.T) {
	long := strings.Repeat("é", 3000)
	e := parseErrorResponse("GET", "u", 400, http.Header{"X-Request-Id": {long}}, []byte(`{"code":"`+long+`","message":"`+long+`"}`), fixedNow, "")
	if len(e.Code) > maxCodeLen || len(e.Message) > maxMessageLen || len(e.RequestID) > maxCodeLen {
		t.Errorf("lengths code %d message %d request id %d", len(e.Code), len(e.Message), len(e.RequestID))
	}
	if !strings.HasPrefix(e.Message, "éé") || strings.ContainsRune(e.Message, '\uFFFD') {
		t.Errorf("message cut inside a rune: %q", e.Message[len(e.Message)-4:])
	}
}

func TestSuccessBodyIsReadWithALimit(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"workspaces":[{"id":"`+strings.Repeat("w", 4096)+`"}]}`)
	})
	c, _ := newTestClient(t, f.URL)
	c.maxBody = 1024
	_, err := c.ListWorkspaces(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrTransport) || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v, want a too-large transport error", err)
	}
	if apiErr.Attempts != 1 || len(f.requests()) != 1 {
		t.Errorf("an oversized response was retried: %d attempts", apiErr.Attempts)
	}
}
