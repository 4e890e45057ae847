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

var sentinels = []error{
	ErrValidation, ErrUnauthorized, ErrForbidden, ErrNotFound,
	ErrConflict, ErrRateLimited, ErrServerFault, ErrTransport,
}

func TestStatusMapsToSentinel(t *testing.T) {
	tests := []struct {
		status int
		want   error // nil: no sentinel
	}{
		{400, ErrValidation},
		{422, ErrValidation},
		{401, ErrUnauthorized},
		{403, ErrForbidden},
		{404, ErrNotFound},
		{409, ErrConflict},
		{429, ErrRateLimited},
		{500, ErrServerFault},
		{502, ErrServerFault},
		{503, ErrServerFault},
		{504, ErrServerFault},
		{405, nil},
		{413, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				w.Header().Set("X-Request-ID", "req_42")
				writeJSON(w, tt.status, `{"code":"some_code","message":"something went wrong"}`)
			})
			c, _ := newTestClient(t, f.URL, WithoutRetries())
			_, err := c.GetProject(context.Background(), "proj_1")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Code != "some_code" ||
				apiErr.Message != "something went wrong" || apiErr.RequestID != "req_42" || apiErr.Attempts != 1 {
				t.Errorf("APIError = %+v", apiErr)
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(err, %v) = %v", s, got)
				}
			}
			for _, part := range []string{"GET", "/v1/projects/proj_1", fmt.Sprint(tt.status), "some_code", "something went wrong", "req_42"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Error() = %q, missing %q", err.Error(), part)
				}
			}
		})
	}
}

func TestTransportFailureMatchesErrTransport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	c, _ := newTestClient(t, "http://"+addr, WithRetryPolicy(RetryPolicy{MaxAttempts: 3}))
	_, err = c.ListWorkspaces(context.Background())
	if !errors.Is(err, ErrTransport) {
		t.Fatalf("err = %v, want ErrTransport", err)
	}
	for _, s := range sentinels[:7] {
		if errors.Is(err, s) {
			t.Errorf("transport error also matches %v", s)
		}
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 0 || apiErr.Attempts != 3 || apiErr.Err == nil {
		t.Fatalf("APIError = %+v, want status 0, 3 attempts and a cause", apiErr)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("cause %v does not unwrap to *net.OpError", apiErr.Err)
	}
	if !strings.Contains(err.Error(), "http://"+addr+"/v1/workspaces") {
		t.Errorf("Error() = %q, want the URL", err.Error())
	}
}

func TestCancelledContextIsTransportAndNotRetried(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"workspaces":[]}`)
	})
	c, s := newTestClient(t, f.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.ListWorkspaces(ctx)
	if !errors.Is(err, ErrTransport) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrTransport wrapping context.Canceled", err)
	}
	if len(s.got()) != 0 || len(f.requests()) != 0 {
		t.Errorf("slept %v and sent %d requests for a cancelled context", s.got(), len(f.requests()))
	}
}

func TestErrorBodyVariants(t *testing.T) {
	tests := []struct {
		name, body, code, msg string
	}{
		{"code and message", `{"code":"invalid","message":"threshold is required"}`, "invalid", "threshold is required"},
		{"message only", `{"message":"nope"}`, "", "nope"},
		{"code only", `{"code":"rate_limited"}`, "rate_limited", ""},
		{"empty object", `{}`, "", "Bad Request"},
		{"empty body", ``, "", "Bad Request"},
		{"error string", `{"error":"bad thing"}`, "", "bad thing"},
		{"nested error", `{"error":{"code":"c1","message":"m1"}}`, "c1", "m1"},
		{"numeric code", `{"code":1234,"message":"x"}`, "1234", "x"},
		{"plain text", "upstream exploded\n\tbadly", "", "upstream exploded badly"},
		{"html", "<html><body>Bad gateway</body></html>", "", "<html><body>Bad gateway</body></html>"},
		{"binary", "\xff\xfe\x00garbage", "", "Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseErrorResponse("GET", "http://x/v1", 400, nil, []byte(tt.body), fixedNow, testKey)
			if e.Code != tt.code || e.Message != tt.msg {
				t.Errorf("code %q message %q, want %q %q", e.Code, e.Message, tt.code, tt.msg)
			}
		})
	}
}
