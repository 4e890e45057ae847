package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestFailingRunsNeverShowTheKey captures the errors and log records of
// failing calls (a rejected key echoed back by the server, a transport
// failure, retries) and checks that the key appears in none of them.
func TestFailingRunsNeverShowTheKey(t *testing.T) {
	echo := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Request-ID", "req-"+auth)
		if n%2 == 1 {
			writeJSON(w, 503, `{"code":"`+auth+`","message":"try again"}`)
			return
		}
		writeJSON(w, 401, fmt.Sprintf(`{"code":"invalid_key","message":"key %s is not valid"}`, auth))
	})
	plain := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(403)
		fmt.Fprintf(w, "forbidden for %s\n", r.Header.Get("Authorization"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()

	logs := &logBuffer{}
	var errs []error
	for _, base := range []string{echo.URL, plain.URL, dead} {
		c, _ := newTestClient(t, base, WithLogger(logs.logger()))
		_, err := c.ListWorkspaces(context.Background())
		errs = append(errs, err)
		_, err = c.CreateProject(context.Background(), CreateProjectInput{Name: "x"})
		errs = append(errs, err)
		errs = append(errs, c.DeleteProject(context.Background(), "proj_1", "x"))
	}
	if !errors.Is(errs[0], ErrUnauthorized) || !errors.Is(errs[3], ErrForbidden) || !errors.Is(errs[6], ErrTransport) {
		t.Fatalf("unexpected errors: %v", errs)
	}
	var texts []string
	for _, err := range errs {
		if err == nil {
			t.Fatal("a failing call returned nil")
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			texts = append(texts, apiErr.Code, apiErr.Message, apiErr.RequestID, apiErr.URL)
		}
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	}
	texts = append(texts, logs.String())
	for _, s := range texts {
		if strings.Contains(s, testKey) {
			t.Errorf("key leaked: %q", s)
		}
	}
	if !strings.Contains(errs[6].Error(), dead+"/v1/workspaces") {
		t.Errorf("transport error %q does not name the URL", errs[6])
	}
	if !strings.Contains(errs[0].Error(), redacted) {
		t.Errorf("echoed key was not marked as redacted: %q", errs[0])
	}
	if !strings.Contains(logs.String(), "admin request retrying") || !strings.Contains(logs.String(), "admin request failed") {
		t.Errorf("expected retry and failure records, got:\n%s", logs)
	}
}
