package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"HTTP date", fixedNow.Add(12 * time.Second).Format(http.TimeFormat), 12 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
					writeJSON(w, 429, `{"code":"rate_limited"}`)
					return
				}
				writeJSON(w, 200, `{"project_id":"proj_1","name":"p"}`)
			})
			c, s := newTestClient(t, f.URL)
			p, err := c.GetProject(context.Background(), "proj_1")
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != "proj_1" {
				t.Errorf("project = %+v", p)
			}
			if got := s.got(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("waited %v, want [%v]", got, tt.want)
			}
		})
	}
}

func TestRetryAfterOnErrorWithoutRetry(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "30")
		writeJSON(w, 429, `{}`)
	})
	c, _ := newTestClient(t, f.URL, WithoutRetries())
	_, err := c.ListWorkspaces(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 30*time.Second || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want rate limited with RetryAfter 30s", err)
	}
	if len(f.requests()) != 1 {
		t.Errorf("sent %d requests with retries disabled", len(f.requests()))
	}
}

func TestRetryThenSuccess(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 {
			writeJSON(w, 503, `{"code":"unavailable"}`)
			return
		}
		writeJSON(w, 201, `{"project_id":"proj_9","name":"payments","workspace_id":"ws_1"}`)
	})
	logs := &logBuffer{}
	c, s := newTestClient(t, f.URL, WithLogger(logs.logger()))
	p, err := c.CreateProject(context.Background(), CreateProjectInput{Name: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "proj_9" || p.WorkspaceID != "ws_1" {
		t.Errorf("project = %+v", p)
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(reqs))
	}
	key := reqs[0].Header.Get("Idempotency-Key")
	if key == "" {
		t.Fatal("POST carried no Idempotency-Key")
	}
	for i, r := range reqs {
		if got := r.Header.Get("Idempotency-Key"); got != key {
			t.Errorf("attempt %d Idempotency-Key %q, want the first attempt's %q", i+1, got, key)
		}
		if string(r.Body) != `{"name":"payments"}` {
			t.Errorf("attempt %d body %q", i+1, r.Body)
		}
	}
	// Jitter is fixed at 0.5: delay n = d/2 + d/4 with d = 250ms·2^(n-1).
	want := []time.Duration{187500 * time.Microsecond, 375 * time.Millisecond}
	if got := s.got(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("delays %v, want %v", got, want)
	}
	if n := strings.Count(logs.String(), "admin request retrying"); n != 2 {
		t.Errorf("%d retry log records, want 2:\n%s", n, logs)
	}
}

func TestRetryExhaustion(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 503, `{"code":"unavailable","message":"try later"}`)
	})
	c, s := newTestClient(t, f.URL, WithRetryPolicy(RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond}))
	_, err := c.GetBreaker(context.Background(), "proj_1", "brk_1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrServerFault) {
		t.Fatalf("err = %v, want a server fault", err)
	}
	if apiErr.Attempts != 5 || len(f.requests()) != 5 {
		t.Errorf("Attempts %d, server saw %d; want 5", apiErr.Attempts, len(f.requests()))
	}
	if !strings.Contains(err.Error(), "after 5 attempts") {
		t.Errorf("Error() = %q does not tell the attempts", err)
	}
	// 100, 200, 300 (capped), 300 ms before jitter; jitter 0.5 takes 3/4.
	want := []time.Duration{75, 150, 225, 225}
	got := s.got()
	if len(got) != len(want) {
		t.Fatalf("delays %v, want %d of them", got, len(want))
	}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Errorf("delay %d = %v, want %v", i, got[i], want[i]*time.Millisecond)
		}
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	p := DefaultRetryPolicy()
	for n := 1; n <= 8; n++ {
		d := p.BaseDelay << (n - 1)
		if d > p.MaxDelay {
			d = p.MaxDelay
		}
		lo, hi := p.backoff(n, 0, 0), p.backoff(n, 0.999999, 0)
		if lo != d/2 || hi > d || hi < d-time.Millisecond {
			t.Errorf("retry %d: delays in [%v, %v], want [%v, %v]", n, lo, hi, d/2, d)
		}
	}
	if got := p.backoff(1, 0.5, 5*time.Second); got != 5*time.Second {
		t.Errorf("Retry-After 5s gave delay %v", got)
	}
}

func TestRetryEligibility(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		run      func(c *Client) error
		attempts int
		idemKey  bool
	}{
		{"GET retried", nil, func(c *Client) error { _, err := c.ListWorkspaces(context.Background()); return err }, 4, false},
		{"PUT retried", nil, func(c *Client) error { _, err := c.SyncBreakers(context.Background(), "p", nil); return err }, 4, false},
		{"DELETE retried", nil, func(c *Client) error { return c.DeleteBreaker(context.Background(), "p", "b") }, 4, false},
		{"POST with automatic key retried", nil, func(c *Client) error {
			_, err := c.CreateWorkspace(context.Background(), CreateWorkspaceInput{Name: "a", Slug: "a"})
			return err
		}, 4, true},
		{"POST without idempotency key not retried", []Option{WithAutoIdempotencyKeys(false)}, func(c *Client) error {
			_, err := c.CreateWorkspace(context.Background(), CreateWorkspaceInput{Name: "a", Slug: "a"})
			return err
		}, 1, false},
		{"POST with caller key retried", []Option{WithAutoIdempotencyKeys(false)}, func(c *Client) error {
			_, err := c.CreateWorkspace(context.Background(), CreateWorkspaceInput{Name: "a", Slug: "a"}, WithIdempotencyKey("k-1"))
			return err
		}, 4, true},
		{"PATCH without key not retried", nil, func(c *Client) error {
			_, err := c.UpdateWorkspace(context.Background(), "ws", UpdateWorkspaceInput{Name: Ptr("b")})
			return err
		}, 1, false},
		{"PATCH with key retried", nil, func(c *Client) error {
			_, err := c.UpdateWorkspace(context.Background(), "ws", UpdateWorkspaceInput{Name: Ptr("b")}, WithIdempotencyKey("k-2"))
			return err
		}, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 503, `{}`)
			})
			c, _ := newTestClient(t, f.URL, tt.opts...)
			err := tt.run(c)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
				t.Fatalf("err = %v", err)
			}
			reqs := f.requests()
			if apiErr.Attempts != tt.attempts || len(reqs) != tt.attempts {
				t.Errorf("Attempts %d, server saw %d, want %d", apiErr.Attempts, len(reqs), tt.attempts)
			}
			if got := reqs[0].Header.Get("Idempotency-Key") != ""; got != tt.idemKey {
				t.Errorf("Idempotency-Key sent = %v, want %v", got, tt.idemKey)
			}
		})
	}
}

func TestNotRetriedStatuses(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 500, 502} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, status, `{}`)
		})
		c, _ := newTestClient(t, f.URL)
		_, _ = c.ListWorkspaces(context.Background())
		if n := len(f.requests()); n != 1 {
			t.Errorf("status %d: sent %d times, want 1", status, n)
		}
	}
}

func TestRetryAfterBeyondLimitStopsRetrying(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, `{}`)
	})
	c, s := newTestClient(t, f.URL)
	_, err := c.ListWorkspaces(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != time.Hour || apiErr.Attempts != 1 {
		t.Fatalf("err = %+v, want one attempt with RetryAfter 1h", apiErr)
	}
	if len(s.got()) != 0 {
		t.Errorf("waited %v", s.got())
	}
}

func TestRetryStopsWhenDeadlineWouldPass(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "20")
		writeJSON(w, 503, `{}`)
	})
	c, s := newTestClient(t, f.URL)
	// By the client's clock the deadline is 10 s away; Retry-After asks for 20 s.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	defer cancel()
	c.now = func() time.Time { return time.Now().Add(59*time.Minute + 50*time.Second) }
	_, err := c.ListWorkspaces(ctx)
	if !errors.Is(err, ErrServerFault) {
		t.Fatalf("err = %v", err)
	}
	if len(s.got()) != 0 || len(f.requests()) != 1 {
		t.Errorf("waited %v and sent %d requests although the deadline comes first", s.got(), len(f.requests()))
	}
}

func TestContextCancelledWhileWaiting(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 503, `{"message":"busy"}`)
	})
	c, s := newTestClient(t, f.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.hook = func(ctx context.Context) error {
		cancel()
		return ctx.Err()
	}
	_, err := c.ListWorkspaces(ctx)
	if !errors.Is(err, ErrServerFault) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the 503 and context.Canceled", err)
	}
	if len(f.requests()) != 1 {
		t.Errorf("sent %d requests after cancel", len(f.requests()))
	}
	if !strings.Contains(err.Error(), "retry abandoned") {
		t.Errorf("Error() = %q", err)
	}
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepContext = %v", err)
	}
	if err := sleepContext(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleepContext = %v", err)
	}
}

func TestRetryPolicyValidation(t *testing.T) {
	for _, p := range []RetryPolicy{{MaxAttempts: -1}, {BaseDelay: -1}, {MaxDelay: -1}, {MaxRetryAfter: -1}} {
		if _, err := NewClient(testKey, WithRetryPolicy(p)); err == nil {
			t.Errorf("policy %+v accepted", p)
		}
	}
}
