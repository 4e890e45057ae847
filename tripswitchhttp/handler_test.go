package tripswitchhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/wraptest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
	"github.com/tripswitch-otel/tripswitch-go/tripswitchhttp"
)

func newHandler(t *testing.T, next http.Handler, c *tripswitch.Client, opts ...tripswitchhttp.Option) *tripswitchhttp.Handler {
	t.Helper()
	h, err := tripswitchhttp.NewHandler(next, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandlerShedsAndRecovers(t *testing.T) {
	env := wraptest.Start(t)
	var failing atomic.Bool
	var served atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if failing.Load() {
			http.Error(w, "database down", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "order "+r.PathValue("id"))
	})
	srv := httptest.NewServer(newHandler(t, mux, env.Client,
		tripswitchhttp.WithBreakers(wraptest.Breaker),
		tripswitchhttp.WithRouter(wraptest.Router),
	))
	t.Cleanup(srv.Close)
	client := srv.Client()
	call := func() *http.Response {
		resp, err := client.Get(srv.URL + "/orders/42")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	for range 5 {
		if resp := call(); resp.StatusCode != 200 {
			t.Fatalf("healthy endpoint answered %d", resp.StatusCode)
		}
	}
	failing.Store(true)
	wraptest.Eventually(t, "the endpoint to shed load", func() bool { return call().StatusCode == http.StatusServiceUnavailable })
	for shed := 0; shed < 5; {
		before := served.Load()
		resp := call()
		if resp.StatusCode != http.StatusServiceUnavailable {
			continue // half-open let a probe through
		}
		if got := resp.Header.Get("Retry-After"); got != "5" {
			t.Fatalf("Retry-After %q, want 5 (the default)", got)
		}
		if served.Load() != before {
			t.Fatal("a shed request reached the handler")
		}
		shed++
	}
	failing.Store(false)
	wraptest.Eventually(t, "the endpoint to recover", func() bool {
		return call().StatusCode == 200 && env.State() == tripswitch.StateClosed
	})

	failed := 0
	for _, s := range env.Samples(t) {
		if route := s.Tags["route"]; route != "GET /orders/{id}" {
			t.Fatalf("sample route %q, want the mux pattern", route)
		}
		if !s.OK {
			failed++
		}
	}
	if failed < 5 {
		t.Fatalf("%d failed samples, want ≥ 5 from the 500s", failed)
	}
}

func TestHandlerClassifies(t *testing.T) {
	env := wraptest.Start(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/502", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Early", "1")
		w.WriteHeader(http.StatusBadGateway)
		w.WriteHeader(http.StatusOK) // superfluous: the first status counts
	})
	mux.HandleFunc("/streamed", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController cannot flush through the wrapper: %v", err)
		}
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("handler bug") })
	h := newHandler(t, mux, env.Client, tripswitchhttp.WithRouter(wraptest.Router))

	for _, path := range []string{"/ok", "/created", "/teapot", "/502", "/streamed"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the handler's panic did not go on")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/panic", nil))
	}()

	gone, cancel := context.WithCancel(context.Background())
	cancel() // the client went away: no sample
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/created", nil).WithContext(gone))
	late, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel() // the request's deadline passed: a failure
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/teapot", nil).WithContext(late))

	got := map[string][]bool{}
	for _, s := range env.Samples(t) {
		got[s.Tags["route"]] = append(got[s.Tags["route"]], s.OK)
	}
	want := map[string][]bool{"/ok": {true}, "/created": {true}, "/teapot": {true, false}, "/502": {false}, "/streamed": {true}, "/panic": {false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("samples by route (ok):\n got %v\nwant %v", got, want)
	}
}

func TestHandlerRejection(t *testing.T) {
	env := wraptest.Start(t)
	if err := env.Server.ForceState(env.ProjectID, wraptest.Breaker, "open", 0); err != nil {
		t.Fatal(err)
	}
	wraptest.Eventually(t, "the client to see the breaker open", func() bool { return env.State() == tripswitch.StateOpen })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("a rejected request reached the handler") })

	for _, tc := range []struct {
		name       string
		opts       []tripswitchhttp.Option
		code       int
		retryAfter string
	}{
		{"default", nil, 503, "5"},
		{"rounded up", []tripswitchhttp.Option{tripswitchhttp.WithRetryAfter(1500 * time.Millisecond)}, 503, "2"},
		{"no header", []tripswitchhttp.Option{tripswitchhttp.WithRetryAfter(0)}, 503, ""},
		{"custom", []tripswitchhttp.Option{tripswitchhttp.WithRejectHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			var be *tripswitch.BreakerError
			if !errors.As(err, &be) {
				t.Errorf("reject handler got %v", err)
			}
			w.WriteHeader(http.StatusTooManyRequests)
		})}, 429, ""},
	} {
		opts := []tripswitchhttp.Option{tripswitchhttp.WithBreakers(wraptest.Breaker)}
		if tc.name == "setup error" {
			opts = nil // not rejected by the breaker: the selector fails
		}
		opts = append(opts, tc.opts...)
		rec := httptest.NewRecorder()
		newHandler(t, next, env.Client, opts...).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != tc.code || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%s: %d Retry-After %q, want %d %q", tc.name, rec.Code, rec.Header().Get("Retry-After"), tc.code, tc.retryAfter)
		}
	}
}
