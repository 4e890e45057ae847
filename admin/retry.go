package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
)

// RetryPolicy says how the client retries a failed request.
//
// A request is retried only when it is safe to repeat: GET, PUT and DELETE
// always; POST and PATCH only when they carry an Idempotency-Key (see
// [WithIdempotencyKey] and [WithAutoIdempotencyKeys]). Only 429, 503 and
// transport failures are retried. The delay before retry n (1-based) is drawn
// uniformly from [d/2, d] with d = BaseDelay·2^(n-1) capped at MaxDelay, and is
// never shorter than the response's Retry-After. Retrying stops early when
// the call's context ends, when its deadline would pass before the next
// attempt, or when Retry-After exceeds MaxRetryAfter; the last error is then
// returned. [APIError.Attempts] tells how many attempts were made.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, first included.
	// 0 means 4; 1 disables retries.
	MaxAttempts int
	// BaseDelay is the delay before the first retry, before jitter. 0 means 250 ms.
	BaseDelay time.Duration
	// MaxDelay caps the computed backoff (not Retry-After). 0 means 8 s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for; a longer
	// one ends retrying at once. 0 means 60 s.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy returns the policy used unless [WithRetryPolicy] is given:
// 4 attempts, 250 ms base delay, 8 s cap, Retry-After honoured up to 60 s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   4,
		BaseDelay:     250 * time.Millisecond,
		MaxDelay:      8 * time.Second,
		MaxRetryAfter: 60 * time.Second,
	}
}

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 0:
		return optionError("WithRetryPolicy", "RetryPolicy.MaxAttempts %d is negative", p.MaxAttempts)
	case p.BaseDelay < 0:
		return optionError("WithRetryPolicy", "RetryPolicy.BaseDelay %v is negative", p.BaseDelay)
	case p.MaxDelay < 0:
		return optionError("WithRetryPolicy", "RetryPolicy.MaxDelay %v is negative", p.MaxDelay)
	case p.MaxRetryAfter < 0:
		return optionError("WithRetryPolicy", "RetryPolicy.MaxRetryAfter %v is negative", p.MaxRetryAfter)
	}
	return nil
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	return p
}

// backoff returns the delay before retry n (1-based); u is uniform in [0,1).
func (p RetryPolicy) backoff(n int, u float64, retryAfter time.Duration) time.Duration {
	d := httpx.Jitter(httpx.Exponential(p.BaseDelay, p.MaxDelay, n), 0.5, 0.5, u)
	return max(d, retryAfter)
}

// canRetryMethod reports whether a request may be sent again.
func canRetryMethod(method string, hasIdempotencyKey bool) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost, http.MethodPatch:
		return hasIdempotencyKey
	}
	return false
}

// retryableError reports whether the failure class is retried. Whether the
// call's context has ended is checked separately.
func retryableError(e *APIError) bool {
	switch e.StatusCode {
	case 0:
		return !errors.Is(e.Err, errBodyTooLarge)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	return false
}

// sleepContext waits for d or until ctx ends, whichever is first.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
