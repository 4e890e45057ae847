package localserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error codes of the {"code","message"} error bodies.
const (
	codeBadRequest          = "bad_request"
	codeInvalidJSON         = "invalid_json"
	codeInvalidGzip         = "invalid_gzip"
	codeInvalidField        = "invalid_field"
	codeInvalidCursor       = "invalid_cursor"
	codeUnauthorized        = "unauthorized"
	codeForbidden           = "forbidden"
	codeNotFound            = "not_found"
	codeMethodNotAllowed    = "method_not_allowed"
	codeConflict            = "conflict"
	codeRouterHasBreakers   = "router_has_breakers"
	codeWorkspaceNotEmpty   = "workspace_not_empty"
	codeNameTaken           = "name_taken"
	codePayloadTooLarge     = "payload_too_large"
	codeUnsupportedEncoding = "unsupported_encoding"
	codeRateLimited         = "rate_limited"
	codeBusy                = "server_busy"
	codeRequestTimeout      = "request_timeout"
	codeIdemReused          = "idempotency_key_reused"
	codeIdemInProgress      = "idempotency_key_in_progress"
	codeInternal            = "internal_error"
)

// apiError is an error answered as {"code","message"} with Status. Field,
// when set, names the offending request field and is also sent as "field".
type apiError struct {
	Status     int
	Code       string
	Message    string
	Field      string
	RetryAfter time.Duration
}

func (e *apiError) Error() string { return "localserver: " + e.Message }

// Is makes a 404 match [ErrNotFound].
func (e *apiError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// ErrNotFound is matched (with errors.Is) by the errors of Go methods such as
// [Server.ForceState] that name an unknown project or breaker.
var ErrNotFound = errors.New("localserver: not found")

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// fieldErr is a 422 naming field.
func fieldErr(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Code: codeInvalidField, Field: field,
		Message: field + ": " + fmt.Sprintf(format, args...)}
}

func notFound(what, id string) *apiError {
	return errf(http.StatusNotFound, codeNotFound, "%s %q not found", what, truncate(id, 80))
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errf(http.StatusInternalServerError, codeInternal, "internal error")
	}
	if ae.Status == http.StatusTooManyRequests || ae.RetryAfter > 0 {
		secs := int((ae.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
	}
	writeJSON(w, ae.Status, errorBody{Code: ae.Code, Message: ae.Message, Field: ae.Field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":"internal_error","message":"response encoding failed"}`)
	}
	writeRawJSON(w, status, b)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte{'\n'})
}

// maxAdminBody bounds a management API request body.
const maxAdminBody = 1 << 20

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, bodyReadError(w, err, func() *apiError {
			return errf(http.StatusRequestEntityTooLarge, codePayloadTooLarge, "request body exceeds %d bytes", limit)
		})
	}
	return b, nil
}

// decodeJSON decodes a management API request body into v. Unknown fields are
// ignored; an empty body decodes as {} when allowEmpty.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	b, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	return unmarshalBody(b, v, allowEmpty)
}

func unmarshalBody(b []byte, v any, allowEmpty bool) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		if allowEmpty {
			return nil
		}
		return errf(http.StatusBadRequest, codeInvalidJSON, "request body is empty; a JSON document is required")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError converts a decoding error into a 400 (syntax) or 422 (a field of
// the wrong type, named).
func jsonError(err error) *apiError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fieldErr(te.Field, "must be a JSON %s", jsonKind(te.Type.Kind().String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON at byte %d", se.Offset)
	}
	if errors.As(err, &te) {
		return errf(http.StatusBadRequest, codeInvalidJSON, "request body must be a JSON %s", jsonKind(te.Type.Kind().String()))
	}
	return errf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON")
}

func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "float64", "float32", "int", "int64", "int32", "uint", "uint64":
		return "number"
	case "bool":
		return "boolean"
	}
	return k
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
