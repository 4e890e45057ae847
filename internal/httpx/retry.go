package httpx

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds is the largest delay in seconds a time.Duration holds.
const maxRetryAfterSeconds = int64(1<<63-1) / int64(time.Second)

// ParseRetryAfter reads a Retry-After value: non-negative delay seconds or an
// HTTP date, measured from now (a date in the past means 0). Surrounding
// spaces are ignored. A delay too large for a time.Duration is capped at the
// largest one. ok is false when v is empty or neither form.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, maxRetryAfterSeconds)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// DrainLimit is how much of a response body DrainClose reads before closing
// it. Reading a short remainder lets the connection be reused; a longer one
// is not worth waiting for.
const DrainLimit = 64 << 10

// DrainClose reads at most DrainLimit bytes of body and closes it.
func DrainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, DrainLimit)
	_ = body.Close()
}

// Exponential returns the delay before retry n (1-based) before jitter:
// base·2^(n-1), capped at limit. n below 1 counts as 1.
func Exponential(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		if d > limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// Jitter scales d by lo + width·u, where u is a uniform draw from [0, 1): the
// result lies in [d·lo, d·(lo+width)). A u outside [0, 1) counts as 0, so
// that a faulty random source cannot stretch a delay.
func Jitter(d time.Duration, lo, width, u float64) time.Duration {
	if !(u >= 0 && u < 1) {
		u = 0
	}
	return time.Duration(float64(d) * (lo + width*u))
}
