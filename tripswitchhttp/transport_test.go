package tripswitchhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tripswitch-otel/tripswitch-go/internal/wraptest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
	"github.com/tripswitch-otel/tripswitch-go/tripswitchhttp"
)

// dependency is an HTTP server that answers 200 or, once failing, 500,
// and counts the requests that reached it.
type dependency struct {
	*httptest.Server
	failing atomic.Bool
	hits    atomic.Int64
}

func newDependency(t *testing.T) *dependency {
	d := &dependency{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		if d.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(d.Close)
	return d
}

func newTransport(t *testing.T, base http.RoundTripper, c *tripswitch.Client, opts ...tripswitchhttp.Option) *tripswitchhttp.Transport {
	t.Helper()
	tr, err := tripswitchhttp.NewTransport(base, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// get sends one request and reads the whole answer.
func get(c *http.Client, u string) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func TestTransportTripsAndRecovers(t *testing.T) {
	env := wraptest.Start(t)
	dep := newDependency(t)
	client := &http.Client{Transport: newTransport(t, dep.Client().Transport, env.Client,
		tripswitchhttp.WithBreakers(wraptest.Breaker),
		tripswitchhttp.WithRouter(wraptest.Router),
	)}

	for range 10 {
		if code, err := get(client, dep.URL); err != nil || code != 200 {
			t.Fatalf("healthy dependency: %d, %v", code, err)
		}
	}

	dep.failing.Store(true)
	wraptest.Eventually(t, "the breaker to reject requests", func() bool {
		_, err := get(client, dep.URL)
		return errors.Is(err, tripswitch.ErrOpen)
	})
	rejected := 0
	for rejected < 5 {
		before := dep.hits.Load()
		_, err := get(client, dep.URL)
		if !errors.Is(err, tripswitch.ErrOpen) {
			continue // the breaker went half-open and let a probe through
		}
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Fatalf("rejection %T is not a *url.Error from http.Client", err)
		}
		if dep.hits.Load() != before {
			t.Fatal("a rejected request reached the dependency")
		}
		rejected++
	}

	dep.failing.Store(false)
	wraptest.Eventually(t, "the breaker to close", func() bool {
		code, err := get(client, dep.URL)
		return err == nil && code == 200 && env.State() == tripswitch.StateClosed
	})

	failed := 0
	for _, s := range env.Samples(t) {
		if s.RouterID != wraptest.Router || s.Metric != wraptest.Metric {
			t.Fatalf("sample to %s/%s", s.RouterID, s.Metric)
		}
		if !s.OK {
			failed++
		}
	}
	if failed < 5 {
		t.Fatalf("%d failed samples, want ≥ 5 (min_count) from the 500s", failed)
	}
}

func TestTransportClassifies(t *testing.T) {
	env := wraptest.Start(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started := make(chan struct{}, 1)
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "ok")
		case "/404":
			http.NotFound(w, r)
		case "/503":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "/reset":
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		case "/torn": // promises 100 bytes, sends 2
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "ab")
			http.NewResponseController(w).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		case "/hang":
			started <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(dep.Close)
	tr := newTransport(t, dep.Client().Transport, env.Client,
		tripswitchhttp.WithRouter(wraptest.Router),
		tripswitchhttp.WithRoute(func(r *http.Request) string { return r.Header.Get("X-Case") }),
	)
	do := func(c *http.Client, ctx context.Context, name, path string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, dep.URL+path, nil)
		req.Header.Set("X-Case", name)
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	client := &http.Client{Transport: tr}
	do(client, context.Background(), "ok", "/ok")
	head, _ := http.NewRequest(http.MethodHead, dep.URL+"/503", nil) // no body: reported at the headers
	head.Header.Set("X-Case", "head")
	if resp, err := client.Do(head); err == nil {
		resp.Body.Close()
	}
	do(client, context.Background(), "404", "/404")
	do(client, context.Background(), "503", "/503")
	do(client, context.Background(), "reset", "/reset")
	do(client, context.Background(), "torn", "/torn")
	do(&http.Client{Transport: tr, Timeout: 100 * time.Millisecond}, context.Background(), "timeout", "/hang")
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	do(client, ctx, "cancelled", "/hang")

	got := map[string]bool{}
	for _, s := range env.Samples(t) {
		route := s.Tags["route"]
		if _, dup := got[route]; dup {
			t.Errorf("two samples for %q", route)
		}
		got[route] = s.OK
	}
	want := map[string]bool{"ok": true, "head": false, "404": true, "503": false, "reset": false, "torn": false, "timeout": false}
	for name, ok := range want {
		if g, found := got[name]; !found || g != ok {
			t.Errorf("%s: sample ok=%v (found %v), want ok=%v", name, g, found, ok)
		}
	}
	if _, found := got["cancelled"]; found {
		t.Error("a request its caller cancelled produced a sample")
	}
}

func TestTransportLatencyEnd(t *testing.T) {
	env := wraptest.Start(t)
	release := make(chan struct{})
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "body")
	}))
	t.Cleanup(dep.Close)

	for _, tc := range []struct {
		end       tripswitchhttp.LatencyEnd
		atHeaders bool
	}{{tripswitchhttp.Headers, true}, {tripswitchhttp.BodyClose, false}} {
		before := env.Client.Stats().Produced
		client := &http.Client{Transport: newTransport(t, dep.Client().Transport, env.Client,
			tripswitchhttp.WithRouter(wraptest.Router), tripswitchhttp.WithLatencyEnd(tc.end))}
		resp, err := client.Get(dep.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := env.Client.Stats().Produced - before; (got == 1) != tc.atHeaders {
			t.Errorf("end %d: %d samples once the headers arrived", tc.end, got)
		}
		time.Sleep(50 * time.Millisecond) // the body takes at least this long
		release <- struct{}{}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resp.Body.Close() // a second close reports nothing more
		if got := env.Client.Stats().Produced - before; got != 1 {
			t.Errorf("end %d: %d samples after the body closed, want 1", tc.end, got)
		}
	}
	samples := env.Samples(t)
	if len(samples) != 2 {
		t.Fatalf("%d samples", len(samples))
	}
	if samples[1].Value < 50 {
		t.Errorf("body-close latency %vms, want ≥ 50ms (the body's delay)", samples[1].Value)
	}
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestTransportRejectsOrFallsBack(t *testing.T) {
	env := wraptest.Start(t)
	dep := newDependency(t)
	if err := env.Server.ForceState(env.ProjectID, wraptest.Breaker, "open", 0); err != nil {
		t.Fatal(err)
	}
	wraptest.Eventually(t, "the client to see the breaker open", func() bool { return env.State() == tripswitch.StateOpen })

	client := &http.Client{Transport: newTransport(t, dep.Client().Transport, env.Client,
		tripswitchhttp.WithBreakers(wraptest.Breaker), tripswitchhttp.WithRouter(wraptest.Router))}
	body := &closeRecorder{Reader: strings.NewReader("order")}
	req, _ := http.NewRequest(http.MethodPost, dep.URL, body)
	_, err := client.Do(req)
	var be *tripswitch.BreakerError
	if !errors.Is(err, tripswitch.ErrOpen) || !errors.As(err, &be) || be.Breaker != wraptest.Breaker {
		t.Fatalf("err = %v, want the breaker's rejection", err)
	}
	if !body.closed.Load() {
		t.Error("the rejected request's body was not closed")
	}

	fallback := &http.Client{Transport: newTransport(t, dep.Client().Transport, env.Client,
		tripswitchhttp.WithBreakers(wraptest.Breaker),
		tripswitchhttp.WithFallback(func(r *http.Request, err error) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{"X-Fallback": {err.Error()}}, Body: io.NopCloser(strings.NewReader("cached")), Request: r}, nil
		}),
	)}
	resp, err := fallback.Get(dep.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "cached" || !strings.Contains(resp.Header.Get("X-Fallback"), wraptest.Breaker) {
		t.Errorf("fallback answer %q, header %q", b, resp.Header.Get("X-Fallback"))
	}
	if n := dep.hits.Load(); n != 0 {
		t.Errorf("%d rejected requests reached the dependency", n)
	}
	if n := len(env.Samples(t)); n != 0 {
		t.Errorf("rejected requests produced %d samples", n)
	}
}

func TestTransportTarget(t *testing.T) {
	env := wraptest.Start(t)
	guarded, free := newDependency(t), newDependency(t)
	guardedHost := strings.TrimPrefix(guarded.URL, "http://")
	client := &http.Client{Transport: newTransport(t, guarded.Client().Transport, env.Client,
		tripswitchhttp.WithTarget(func(r *http.Request) tripswitchhttp.Target {
			if r.URL.Host == guardedHost {
				return tripswitchhttp.Target{Breakers: []string{wraptest.Breaker}, Router: wraptest.Router}
			}
			return tripswitchhttp.Target{}
		}),
	)}
	if err := env.Server.ForceState(env.ProjectID, wraptest.Breaker, "open", 0); err != nil {
		t.Fatal(err)
	}
	wraptest.Eventually(t, "the client to see the breaker open", func() bool { return env.State() == tripswitch.StateOpen })
	if _, err := get(client, guarded.URL); !errors.Is(err, tripswitch.ErrOpen) {
		t.Errorf("guarded host: err = %v, want a rejection", err)
	}
	if code, err := get(client, free.URL); err != nil || code != 200 {
		t.Errorf("other host: %d, %v", code, err)
	}
}

func TestTransportTraceIDWithOtelhttp(t *testing.T) {
	env := wraptest.Start(t) // no extractor: the transport reads the span itself
	var traceparent atomic.Value
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceparent.Store(r.Header.Get("Traceparent"))
	}))
	t.Cleanup(dep.Close)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	otelOpts := []otelhttp.Option{otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{})}
	wrap := func(base http.RoundTripper) http.RoundTripper {
		return newTransport(t, base, env.Client, tripswitchhttp.WithRouter(wraptest.Router))
	}
	orders := map[string]http.RoundTripper{
		"otelhttp outside": otelhttp.NewTransport(wrap(dep.Client().Transport), otelOpts...),
		"otelhttp inside":  wrap(otelhttp.NewTransport(dep.Client().Transport, otelOpts...)),
	}
	for name, rt := range orders {
		ctx, span := tp.Tracer("test").Start(context.Background(), name)
		want := span.SpanContext().TraceID().String()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, dep.URL, nil)
		resp, err := (&http.Client{Transport: rt}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		span.End()
		if tp, _ := traceparent.Load().(string); !strings.Contains(tp, want) {
			t.Errorf("%s: dependency saw traceparent %q, want trace %s", name, tp, want)
		}
		samples := env.Samples(t)
		if last := samples[len(samples)-1]; last.TraceID != want {
			t.Errorf("%s: sample trace %q, want %s", name, last.TraceID, want)
		}
	}
}

func TestNewTransportRejectsBadOptions(t *testing.T) {
	env := wraptest.Start(t)
	for name, tc := range map[string]struct {
		c    *tripswitch.Client
		opts []tripswitchhttp.Option
		want error
	}{
		"nil client":  {nil, nil, tripswitch.ErrInvalidOption},
		"conflict":    {env.Client, []tripswitchhttp.Option{tripswitchhttp.WithRouter("r"), tripswitchhttp.WithTarget(func(*http.Request) tripswitchhttp.Target { return tripswitchhttp.Target{} })}, tripswitch.ErrConflictingOptions},
		"empty name":  {env.Client, []tripswitchhttp.Option{tripswitchhttp.WithBreakers("")}, tripswitch.ErrInvalidOption},
		"bad metric":  {env.Client, []tripswitchhttp.Option{tripswitchhttp.WithRouter("r"), tripswitchhttp.WithCallOptions(tripswitch.WithMetric("x", "1"))}, tripswitch.ErrInvalidOption},
		"dup metric":  {env.Client, []tripswitchhttp.Option{tripswitchhttp.WithRouter("r"), tripswitchhttp.WithCallOptions(tripswitch.WithMetric("latency", 1))}, tripswitch.ErrInvalidOption},
		"nil classif": {env.Client, []tripswitchhttp.Option{tripswitchhttp.WithClassifier(nil)}, tripswitch.ErrInvalidOption},
		"retry-after": {env.Client, []tripswitchhttp.Option{tripswitchhttp.WithRetryAfter(-time.Second)}, tripswitch.ErrInvalidOption},
	} {
		_, err := tripswitchhttp.NewTransport(nil, tc.c, tc.opts...)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: NewTransport err = %v, want %v", name, err, tc.want)
		}
		_, err = tripswitchhttp.NewHandler(http.NotFoundHandler(), tc.c, tc.opts...)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: NewHandler err = %v, want %v", name, err, tc.want)
		}
	}
}

// canned is an in-memory transport answering 200 with a short body.
type canned struct{}

func (canned) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

func TestTransportWithoutSamplesPassesTheResponseThrough(t *testing.T) {
	env := wraptest.Start(t)
	tr := newTransport(t, canned{}, env.Client, tripswitchhttp.WithBreakers(wraptest.Breaker))
	req := httptest.NewRequest(http.MethodGet, "http://dep.example/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.Body != http.NoBody {
		t.Fatalf("resp body %T, err %v", resp.Body, err)
	}
}
