package admin

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParseError feeds arbitrary error responses to the parser and checks
// what a caller relies on: no panic, bounded and printable fields, a
// non-negative Retry-After, at most one matching sentinel, and never the key.
func FuzzParseError(f *testing.F) {
	f.Add(400, "", []byte(`{"code":"invalid","message":"threshold is required"}`))
	f.Add(429, "7", []byte(`{"code":"rate_limited"}`))
	f.Add(429, "Sun, 01 Mar 2026 12:00:12 GMT", []byte(`{}`))
	f.Add(503, "-1", []byte("<html>Service Unavailable</html>"))
	f.Add(401, "", []byte(`{"code":"unauthorized","message":"key `+testKey+` is not valid"}`))
	f.Add(500, "", []byte(`{"error":{"code":"x","message":"`+testKey+testKey+`"}}`))
	f.Add(404, "", []byte(`{"message":"eb_admin_\u0000test_5ecret_a1b2c3"}`))
	f.Add(422, "", []byte("\xff\xfe\x00"))
	f.Add(999, "99999999999999999999999", []byte(`{"code":12.5e400}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("X-Request-ID", string(body))
		e := parseErrorResponse("POST", "http://127.0.0.1/v1/x", status, h, body, fixedNow, testKey)
		if e.StatusCode != status {
			t.Fatalf("status %d, want %d", e.StatusCode, status)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %v", e.RetryAfter)
		}
		for name, s := range map[string]string{"code": e.Code, "message": e.Message, "request id": e.RequestID} {
			limit := maxCodeLen
			if name == "message" {
				limit = maxMessageLen
			}
			if len(s) > limit || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
				t.Fatalf("%s %q: too long, invalid or with control characters", name, s)
			}
		}
		msg := e.Error()
		for _, s := range []string{msg, e.Code, e.Message, e.RequestID} {
			if strings.Contains(s, testKey) {
				t.Fatalf("key in error: %q", s)
			}
		}
		matched := 0
		for _, s := range sentinels {
			if errors.Is(e, s) {
				matched++
			}
		}
		if matched > 1 {
			t.Fatalf("status %d matches %d sentinels", status, matched)
		}
	})
}
