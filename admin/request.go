package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
)

// RequestOption adjusts one call.
type RequestOption interface {
	applyRequest(*requestConfig)
}

type requestOptionFunc func(*requestConfig)

func (f requestOptionFunc) applyRequest(c *requestConfig) { f(c) }

type requestConfig struct {
	idempotencyKey string
	requestID      string
	timeout        time.Duration
	header         http.Header
	errs           []error
}

// WithIdempotencyKey sends key as the Idempotency-Key header, which also makes
// a POST or PATCH eligible for retries. Every attempt of the call carries the
// same key.
func WithIdempotencyKey(key string) RequestOption {
	return requestOptionFunc(func(c *requestConfig) {
		if strings.TrimSpace(key) == "" || strings.ContainsAny(key, "\r\n") {
			c.errs = append(c.errs, invalidArg("idempotency key", "is empty or contains a line break"))
			return
		}
		c.idempotencyKey = key
	})
}

// WithRequestID sends id as the X-Request-ID header, for correlating the call
// with server logs.
func WithRequestID(id string) RequestOption {
	return requestOptionFunc(func(c *requestConfig) {
		if strings.TrimSpace(id) == "" || strings.ContainsAny(id, "\r\n") {
			c.errs = append(c.errs, invalidArg("request id", "is empty or contains a line break"))
			return
		}
		c.requestID = id
	})
}

// WithTimeout bounds the whole call, retries and waits between them included.
// It combines with the deadline of the call's context; the earlier wins.
func WithTimeout(d time.Duration) RequestOption {
	return requestOptionFunc(func(c *requestConfig) {
		if d <= 0 {
			c.errs = append(c.errs, invalidArg("timeout", fmt.Sprintf("%v is not positive", d)))
			return
		}
		c.timeout = d
	})
}

// WithHeader adds a header to the request. Authorization, Host,
// Content-Length, Content-Type, Idempotency-Key and X-Request-ID cannot be
// set this way (the last two have their own options).
func WithHeader(name, value string) RequestOption {
	return requestOptionFunc(func(c *requestConfig) {
		canon := http.CanonicalHeaderKey(strings.TrimSpace(name))
		switch {
		case canon == "":
			c.errs = append(c.errs, invalidArg("header name", "is empty"))
		case reservedHeaders[canon]:
			c.errs = append(c.errs, invalidArg("header "+canon, "cannot be set with WithHeader"))
		case strings.ContainsAny(value, "\r\n"):
			c.errs = append(c.errs, invalidArg("header "+canon, "value contains a line break"))
		default:
			if c.header == nil {
				c.header = make(http.Header)
			}
			c.header.Add(canon, value)
		}
	})
}

var reservedHeaders = map[string]bool{
	"Authorization":   true,
	"Host":            true,
	"Content-Length":  true,
	"Content-Type":    true,
	"Idempotency-Key": true,
	"X-Request-Id":    true,
}

// call describes one API call.
type call struct {
	method string
	path   string // escaped, starting with /v1
	query  url.Values
	in     any // JSON request body; nil for none
}

// do performs c and decodes a JSON response into out (when out is non-nil).
func (c *Client) do(ctx context.Context, cl call, out any, opts []RequestOption) error {
	data, err := c.send(ctx, cl, opts)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return c.decode(cl, data, out)
}

func (c *Client) decode(cl call, data []byte, out any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("admin: %s %s: empty response body", cl.method, cl.path)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin: %s %s: decoding response: %w", cl.method, cl.path, err)
	}
	return nil
}

// send performs the call with retries and returns the body of a successful
// response.
func (c *Client) send(ctx context.Context, cl call, opts []RequestOption) ([]byte, error) {
	if ctx == nil {
		return nil, invalidArg("context", "is nil")
	}
	var rc requestConfig
	for _, o := range opts {
		if o != nil {
			o.applyRequest(&rc)
		}
	}
	if len(rc.errs) > 0 {
		return nil, errors.Join(rc.errs...)
	}
	if rc.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rc.timeout)
		defer cancel()
	}
	var body []byte
	if cl.in != nil {
		var err error
		if body, err = json.Marshal(cl.in); err != nil {
			return nil, fmt.Errorf("%w: encoding request body: %v", ErrInvalidArgument, err)
		}
	}
	idem := rc.idempotencyKey
	if idem == "" && c.autoIdem && cl.method == http.MethodPost {
		idem = newIdempotencyKey()
	}
	retryable := canRetryMethod(cl.method, idem != "")
	target := c.baseURL + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	shownURL := redact(target, c.key)

	for attempt := 1; ; attempt++ {
		start := c.now()
		data, apiErr := c.attempt(ctx, cl.method, target, shownURL, body, idem, &rc)
		if apiErr == nil {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "admin request",
				slog.String("method", cl.method), slog.String("path", cl.path),
				slog.Int("attempt", attempt), slog.Duration("elapsed", c.now().Sub(start)))
			return data, nil
		}
		apiErr.Attempts = attempt
		if !retryable || attempt >= c.retry.MaxAttempts || !retryableError(apiErr) || ctx.Err() != nil {
			c.logFailure(ctx, cl, apiErr)
			return nil, apiErr
		}
		if apiErr.RetryAfter > c.retry.MaxRetryAfter {
			c.logFailure(ctx, cl, apiErr)
			return nil, apiErr
		}
		delay := c.retry.backoff(attempt, c.jitter(), apiErr.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && dl.Sub(c.now()) < delay {
			c.logFailure(ctx, cl, apiErr)
			return nil, apiErr
		}
		attrs := []slog.Attr{
			slog.String("method", cl.method), slog.String("path", cl.path),
			slog.Int("attempt", attempt), slog.Duration("delay", delay),
		}
		if apiErr.StatusCode != 0 {
			attrs = append(attrs, slog.Int("status", apiErr.StatusCode))
		} else {
			attrs = append(attrs, slog.String("error", apiErr.cause))
		}
		c.logger.LogAttrs(ctx, slog.LevelInfo, "admin request retrying", attrs...)
		if err := c.sleep(ctx, delay); err != nil {
			if apiErr.Err == nil {
				apiErr.Err = err
				apiErr.cause = err.Error()
			}
			c.logFailure(ctx, cl, apiErr)
			return nil, apiErr
		}
	}
}

func (c *Client) logFailure(ctx context.Context, cl call, e *APIError) {
	attrs := []slog.Attr{
		slog.String("method", cl.method), slog.String("path", cl.path),
		slog.Int("attempts", e.Attempts),
	}
	if e.StatusCode != 0 {
		attrs = append(attrs, slog.Int("status", e.StatusCode), slog.String("code", e.Code))
		if e.RequestID != "" {
			attrs = append(attrs, slog.String("request_id", e.RequestID))
		}
	} else {
		attrs = append(attrs, slog.String("error", e.cause))
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "admin request failed", attrs...)
}

// attempt sends the request once.
func (c *Client) attempt(ctx context.Context, method, target, shownURL string, body []byte, idem string, rc *requestConfig) ([]byte, *APIError) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, transportError(method, shownURL, err, c.key)
	}
	for k, vs := range rc.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	if rc.requestID != "" {
		req.Header.Set("X-Request-ID", rc.requestID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(method, shownURL, err, c.key)
	}
	defer httpx.DrainClose(resp.Body)
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, c.maxErrBody))
		return nil, parseErrorResponse(method, shownURL, resp.StatusCode, resp.Header, data, c.now(), c.key)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, transportError(method, shownURL, fmt.Errorf("reading response body: %w", err), c.key)
	}
	if int64(len(data)) > c.maxBody {
		return nil, transportError(method, shownURL, fmt.Errorf("%w (limit %d bytes)", errBodyTooLarge, c.maxBody), c.key)
	}
	return data, nil
}

// errBodyTooLarge marks a response that is not retried: the same request
// would get the same response.
var errBodyTooLarge = errors.New("response body too large")

func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pathArg is one path parameter: its name (for errors) and value.
type pathArg struct{ name, value string }

func arg(name, value string) pathArg { return pathArg{name, value} }

// buildPath fills format's %s verbs with escaped, non-empty path arguments.
func buildPath(format string, args ...pathArg) (string, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		if strings.TrimSpace(a.value) == "" {
			return "", invalidArg(a.name, "is empty")
		}
		vals[i] = url.PathEscape(a.value)
	}
	return fmt.Sprintf(format, vals...), nil
}

// scopeTimeout applies the WithTimeout of opts to ctx, for calls made of
// several requests, so that the timeout bounds the whole call.
func scopeTimeout(ctx context.Context, opts []RequestOption) (context.Context, context.CancelFunc) {
	var rc requestConfig
	for _, o := range opts {
		if o != nil {
			o.applyRequest(&rc)
		}
	}
	if rc.timeout > 0 && ctx != nil {
		return context.WithTimeout(ctx, rc.timeout)
	}
	return ctx, func() {}
}
