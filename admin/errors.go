package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
)

// Sentinel errors. Every failed API call returns an [*APIError], which matches
// exactly one of the first eight with errors.Is (a status outside the listed
// classes, such as 405 or 413, matches none of them).
var (
	// ErrValidation: the server rejected the input (400 or 422).
	ErrValidation = errors.New("admin: validation failed")
	// ErrUnauthorized: the admin key is missing, unknown or revoked (401).
	ErrUnauthorized = errors.New("admin: unauthorized")
	// ErrForbidden: the key may not perform this call (403).
	ErrForbidden = errors.New("admin: forbidden")
	// ErrNotFound: the object does not exist (404).
	ErrNotFound = errors.New("admin: not found")
	// ErrConflict: the call conflicts with the current state, e.g. deleting a
	// router that still has linked breakers (409).
	ErrConflict = errors.New("admin: conflict")
	// ErrRateLimited: too many requests (429); see APIError.RetryAfter.
	ErrRateLimited = errors.New("admin: rate limited")
	// ErrServerFault: the server failed (5xx).
	ErrServerFault = errors.New("admin: server fault")
	// ErrTransport: no response was received (connection failure, timeout,
	// cancelled context, unreadable response).
	ErrTransport = errors.New("admin: transport failure")

	// ErrInvalidArgument: the call was refused before sending because an
	// argument is missing or malformed. Returned wrapped, naming the argument.
	ErrInvalidArgument = errors.New("admin: invalid argument")
	// ErrNameMismatch: a workspace or project delete was refused because the
	// confirmation does not equal the object's current name. No DELETE was sent.
	ErrNameMismatch = errors.New("admin: name confirmation does not match")
	// ErrDuplicateName: [Client.EnsureRouter] found several routers with the
	// name it looks up, so it cannot tell which one to update. Nothing was
	// created or changed; the error names the routers' IDs.
	ErrDuplicateName = errors.New("admin: more than one object has this name")
	// ErrInvalidOption: [NewClient] was given an argument or option it cannot
	// take. Returned wrapped, naming the option (or "NewClient" for its
	// arguments).
	ErrInvalidOption = errors.New("admin: invalid option")
)

// APIError describes a failed API call: an error status from the server
// (StatusCode ≥ 400) or a transport failure (StatusCode 0). It never contains
// the admin key.
type APIError struct {
	// Method and URL of the request. URL carries no credentials.
	Method string
	URL    string
	// StatusCode is the HTTP status, or 0 for a transport failure.
	StatusCode int
	// Code and Message come from the error body {"code","message"}; Message
	// falls back to a bounded excerpt of a non-JSON body or the status text.
	Code    string
	Message string
	// RequestID is the response's X-Request-ID header, if any.
	RequestID string
	// RetryAfter is the server's Retry-After (seconds or HTTP date), or 0.
	RetryAfter time.Duration
	// Attempts is how many times the request was sent (1 when not retried).
	Attempts int
	// Err is the underlying cause of a transport failure, or the context error
	// when waiting to retry was cut short; nil otherwise.
	Err error

	cause string // Err's text with credentials removed
}

// Error returns a one-line description without credentials.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("admin: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	if e.StatusCode == 0 {
		b.WriteString("transport failure")
	} else {
		b.WriteString(strconv.Itoa(e.StatusCode))
		if e.Code != "" {
			b.WriteByte(' ')
			b.WriteString(e.Code)
		}
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteByte(')')
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.cause != "" {
		if e.StatusCode == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; retry abandoned: ")
		}
		b.WriteString(e.cause)
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *APIError) Unwrap() error { return e.Err }

// Is reports whether e belongs to the class of the sentinel target.
func (e *APIError) Is(target error) bool {
	s := e.StatusCode
	switch target {
	case ErrTransport:
		return s == 0
	case ErrValidation:
		return s == http.StatusBadRequest || s == http.StatusUnprocessableEntity
	case ErrUnauthorized:
		return s == http.StatusUnauthorized
	case ErrForbidden:
		return s == http.StatusForbidden
	case ErrNotFound:
		return s == http.StatusNotFound
	case ErrConflict:
		return s == http.StatusConflict
	case ErrRateLimited:
		return s == http.StatusTooManyRequests
	case ErrServerFault:
		return s >= 500 && s <= 599
	}
	return false
}

const (
	maxCodeLen    = 128
	maxMessageLen = 1024
	maxExcerptLen = 256
	redacted      = "[REDACTED]"
)

// parseErrorResponse builds the error for an HTTP error response. body is
// what was read of the response (already bounded); secret, when not empty,
// is removed from every text taken from the response.
func parseErrorResponse(method, rawURL string, status int, h http.Header, body []byte, now time.Time, secret string) *APIError {
	e := &APIError{
		Method:     method,
		URL:        rawURL,
		StatusCode: status,
	}
	var doc struct {
		Code    json.RawMessage `json:"code"`
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil {
		e.Code = jsonText(doc.Code)
		e.Message = jsonText(doc.Message)
		if e.Message == "" {
			// {"error": "..."} or {"error": {"code","message"}}, common in proxies.
			if s := jsonText(doc.Error); s != "" {
				e.Message = s
			} else {
				var inner struct {
					Code    json.RawMessage `json:"code"`
					Message json.RawMessage `json:"message"`
				}
				if json.Unmarshal(doc.Error, &inner) == nil {
					if e.Code == "" {
						e.Code = jsonText(inner.Code)
					}
					e.Message = jsonText(inner.Message)
				}
			}
		}
	} else if len(body) > 0 && utf8.Valid(body) {
		e.Message = sanitize(string(body), maxExcerptLen, secret)
	}
	e.Code = sanitize(e.Code, maxCodeLen, secret)
	e.Message = sanitize(e.Message, maxMessageLen, secret)
	if e.Message == "" && e.Code == "" {
		e.Message = http.StatusText(status)
	}
	if h != nil {
		e.RequestID = sanitize(h.Get("X-Request-ID"), maxCodeLen, secret)
		if d, ok := httpx.ParseRetryAfter(h.Get("Retry-After"), now); ok {
			e.RetryAfter = d
		}
	}
	return e
}

// jsonText returns a JSON string's value, a number's text, or "".
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// clean replaces control characters with spaces, collapses runs of spaces,
// trims, and cuts the result to at most max bytes on a rune boundary.
func clean(s string, max int) string {
	if s == "" {
		return ""
	}
	if len(s) > 4*max {
		s = s[:4*max] // bound the work; the cut below decides the final length
	}
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut]
	}
	return out
}

// sanitize makes text from a response or a cause safe to show: without the
// secret (removed before cutting, so that no part of it survives a cut),
// without control characters, and at most max bytes long.
func sanitize(s string, max int, secret string) string {
	return redact(clean(redact(s, secret), max), secret)
}

// redact removes every occurrence of secret from s.
func redact(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	for i := 0; i < 4 && strings.Contains(s, secret); i++ {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	if strings.Contains(s, secret) {
		return redacted
	}
	return s
}

// transportError builds the error for a request that got no usable response.
func transportError(method, rawURL string, err error, secret string) *APIError {
	cause := err
	if ue, ok := errors.AsType[*url.Error](err); ok {
		cause = ue.Err
	}
	return &APIError{
		Method: method,
		URL:    rawURL,
		Err:    cause,
		cause:  sanitize(cause.Error(), maxMessageLen, secret),
	}
}

// invalidArg returns an ErrInvalidArgument error naming the argument.
func invalidArg(name, problem string) error {
	return fmt.Errorf("%w: %s %s", ErrInvalidArgument, name, problem)
}
