package localserver

import (
	"math"
	"net/http"
	"sync"
	"time"
)

// maxLimiterScopes bounds the buckets kept; when exceeded, idle buckets are
// forgotten (a forgotten bucket starts full again).
const maxLimiterScopes = 10_000

// rateLimiter is a token bucket per credential scope. A nil or disabled
// limiter allows everything.
type rateLimiter struct {
	rate  float64 // tokens per second; 0 disables
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// allow takes one token of scope, or returns a 429 saying when to retry.
func (l *rateLimiter) allow(scope string, now time.Time) *apiError {
	if l == nil || l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[scope]
	if b == nil {
		if len(l.buckets) >= maxLimiterScopes {
			l.evictIdle(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[scope] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return &apiError{Status: http.StatusTooManyRequests, Code: codeRateLimited,
		Message: "rate limit exceeded; retry later", RetryAfter: wait}
}

func (l *rateLimiter) evictIdle(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLimiterScopes {
		clear(l.buckets)
	}
}
