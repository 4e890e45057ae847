package tripswitchhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tripswitch-otel/tripswitch-go/internal/wraptest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
	"github.com/tripswitch-otel/tripswitch-go/tripswitchhttp"
)

// The benchmarks measure the wrappers' overhead: compare each Wrapped
// figure with the Bare one (same in-memory transport or handler). The
// breaker is closed and the client sends nothing while they run.

// emptyBody is a response body that allocates nothing.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// cannedBody answers 200 with a body, allocating only the *http.Response.
type cannedBody struct{}

func (cannedBody) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: emptyBody{}, Request: r}, nil
}

func benchEnv(b *testing.B) *wraptest.Env {
	return wraptest.Start(b,
		tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithBatchSize(1<<30),
		tripswitch.WithBufferCapacity(1<<16),
	)
}

func benchRoundTrip(b *testing.B, rt http.RoundTripper, ctx context.Context) {
	req := httptest.NewRequest(http.MethodGet, "http://dep.example/items", nil).WithContext(ctx)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}

func BenchmarkTransport(b *testing.B) {
	env := benchEnv(b)
	b.Run("Bare", func(b *testing.B) { benchRoundTrip(b, cannedBody{}, context.Background()) })
	breakers := []string{wraptest.Breaker}
	for _, tc := range []struct {
		name string
		opts []tripswitchhttp.Option
	}{
		{"GateOnly", []tripswitchhttp.Option{tripswitchhttp.WithBreakers(wraptest.Breaker)}},
		{"Wrapped", []tripswitchhttp.Option{tripswitchhttp.WithBreakers(wraptest.Breaker), tripswitchhttp.WithRouter(wraptest.Router)}},
		{"WrappedHeaders", []tripswitchhttp.Option{tripswitchhttp.WithBreakers(wraptest.Breaker), tripswitchhttp.WithRouter(wraptest.Router), tripswitchhttp.WithLatencyEnd(tripswitchhttp.Headers)}},
		{"WrappedTarget", []tripswitchhttp.Option{tripswitchhttp.WithTarget(func(r *http.Request) tripswitchhttp.Target {
			return tripswitchhttp.Target{Breakers: breakers, Router: wraptest.Router}
		})}},
	} {
		tr, err := tripswitchhttp.NewTransport(cannedBody{}, env.Client, tc.opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) { benchRoundTrip(b, tr, context.Background()) })
	}
	// With a span in the request's context, its trace ID is encoded once
	// per request (one allocation).
	tr, err := tripswitchhttp.NewTransport(cannedBody{}, env.Client, tripswitchhttp.WithBreakers(wraptest.Breaker), tripswitchhttp.WithRouter(wraptest.Router))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("bench").Start(context.Background(), "request")
	defer span.End()
	b.Run("BareWithSpan", func(b *testing.B) { benchRoundTrip(b, cannedBody{}, ctx) })
	b.Run("WrappedWithSpan", func(b *testing.B) { benchRoundTrip(b, tr, ctx) })
}

// discardWriter is a ResponseWriter that allocates nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchServe(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/items/1", nil)
	req.Pattern = "GET /items/{id}"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

func BenchmarkHandler(b *testing.B) {
	env := benchEnv(b)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	b.Run("Bare", func(b *testing.B) { benchServe(b, next) })
	h, err := tripswitchhttp.NewHandler(next, env.Client, tripswitchhttp.WithBreakers(wraptest.Breaker), tripswitchhttp.WithRouter(wraptest.Router))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Wrapped", func(b *testing.B) { benchServe(b, h) })
}
