package tripswitchgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tripswitch-otel/tripswitch-go/internal/wraptest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
	"github.com/tripswitch-otel/tripswitch-go/tripswitchgrpc"
)

func newInterceptors(t testing.TB, c *tripswitch.Client, opts ...tripswitchgrpc.Option) *tripswitchgrpc.Interceptors {
	t.Helper()
	i, err := tripswitchgrpc.New(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// guarded gates on the seeded breaker and reports to its router.
func guarded() []tripswitchgrpc.Option {
	return []tripswitchgrpc.Option{tripswitchgrpc.WithBreakers(wraptest.Breaker), tripswitchgrpc.WithRouter(wraptest.Router)}
}

// tripAndRecover drives calls through a dependency that starts failing,
// checks that the breaker rejects further calls without reaching it, and
// that calls go through again once it recovers.
func tripAndRecover(t *testing.T, env *wraptest.Env, d *dep, call func() error, route string) {
	for range 5 {
		if err := call(); err != nil {
			t.Fatalf("healthy dependency: %v", err)
		}
	}
	d.code.Store(uint32(codes.Unavailable))
	wraptest.Eventually(t, "the breaker to reject calls", func() bool {
		_, rejected := tripswitchgrpc.Rejection(call())
		return rejected
	})
	for rejected := 0; rejected < 5; {
		before := d.hits.Load()
		err := call()
		be, ok := tripswitchgrpc.Rejection(err)
		if !ok {
			continue // half-open let a probe through
		}
		if status.Code(err) != codes.Unavailable || be.Breaker != wraptest.Breaker {
			t.Fatalf("rejection %v: code %v, breaker %q", err, status.Code(err), be.Breaker)
		}
		if d.hits.Load() != before {
			t.Fatal("a rejected call reached the dependency")
		}
		rejected++
	}
	d.code.Store(uint32(codes.OK))
	wraptest.Eventually(t, "the breaker to close", func() bool {
		return call() == nil && env.State() == tripswitch.StateClosed
	})
	failed := 0
	for _, s := range env.Samples(t) {
		if s.RouterID != wraptest.Router || s.Tags["route"] != route {
			t.Fatalf("sample to %s, route %q, want %s", s.RouterID, s.Tags["route"], route)
		}
		if !s.OK {
			failed++
		}
	}
	if failed < 5 {
		t.Fatalf("%d failed samples, want ≥ 5", failed)
	}
}

func TestClientInterceptorsTripAndRecover(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		call        func(context.Context, *grpc.ClientConn) error
	}{{"unary", callMethod, unary}, {"stream", watchMethod, watch}} {
		t.Run(tc.name, func(t *testing.T) {
			env := wraptest.Start(t)
			d := &dep{}
			i := newInterceptors(t, env.Client, guarded()...)
			conn := serve(t, d, nil, grpc.WithUnaryInterceptor(i.UnaryClient()), grpc.WithStreamInterceptor(i.StreamClient()))
			tripAndRecover(t, env, d, func() error {
				err := tc.call(context.Background(), conn)
				if be := (*tripswitch.BreakerError)(nil); errors.As(err, &be) && !errors.Is(err, tripswitch.ErrOpen) {
					t.Fatalf("local rejection %v does not match ErrOpen", err)
				}
				return err
			}, tc.route)
		})
	}
}

func TestServerInterceptorsShedAndRecover(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		call        func(context.Context, *grpc.ClientConn) error
	}{{"unary", callMethod, unary}, {"stream", watchMethod, watch}} {
		t.Run(tc.name, func(t *testing.T) {
			env := wraptest.Start(t)
			d := &dep{}
			i := newInterceptors(t, env.Client, guarded()...)
			conn := serve(t, d, []grpc.ServerOption{grpc.UnaryInterceptor(i.UnaryServer()), grpc.StreamInterceptor(i.StreamServer())})
			tripAndRecover(t, env, d, func() error {
				err := tc.call(context.Background(), conn)
				if be := (*tripswitch.BreakerError)(nil); errors.As(err, &be) {
					t.Fatalf("a remote rejection arrived as a local error %T", err)
				}
				return err
			}, tc.route)
		})
	}
}

func TestInterceptorsClassifyCodes(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			env := wraptest.Start(t)
			d := &dep{}
			i := newInterceptors(t, env.Client, tripswitchgrpc.WithRouter(wraptest.Router))
			custom := newInterceptors(t, env.Client, tripswitchgrpc.WithRouter(wraptest.Router), tripswitchgrpc.WithRoute(func(string) string { return "custom" }),
				tripswitchgrpc.WithFailureCodes(codes.NotFound))
			var conn, customConn *grpc.ClientConn
			if side == "client" {
				conn = serve(t, d, nil, grpc.WithUnaryInterceptor(i.UnaryClient()))
				customConn = serve(t, d, nil, grpc.WithUnaryInterceptor(custom.UnaryClient()))
			} else {
				conn = serve(t, d, []grpc.ServerOption{grpc.UnaryInterceptor(i.UnaryServer())})
				customConn = serve(t, d, []grpc.ServerOption{grpc.UnaryInterceptor(custom.UnaryServer())})
			}
			var want []string
			run := func(c *grpc.ClientConn, code codes.Code, ok bool) {
				d.code.Store(uint32(code))
				_ = unary(context.Background(), c)
				route := callMethod
				if c == customConn {
					route = "custom"
				}
				want = append(want, fmt.Sprintf("%s %v %v", route, code, ok))
			}
			for _, tc := range []struct {
				code codes.Code
				ok   bool
			}{
				{codes.OK, true}, {codes.NotFound, true}, {codes.InvalidArgument, true}, {codes.Canceled, true},
				{codes.Unavailable, false}, {codes.DeadlineExceeded, false}, {codes.ResourceExhausted, false},
				{codes.Internal, false}, {codes.Unknown, false},
			} {
				run(conn, tc.code, tc.ok)
			}
			run(customConn, codes.NotFound, false)
			run(customConn, codes.Internal, true)
			d.code.Store(0)
			d.plain.Store(true) // a plain error is Unknown
			_ = unary(context.Background(), conn)
			want = append(want, fmt.Sprintf("%s %v %v", callMethod, codes.Unknown, false))
			d.plain.Store(false)

			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the caller gave up: no sample
			_ = unary(ctx, conn)

			samples := env.Samples(t)
			if len(samples) != len(want) {
				t.Fatalf("%d samples, want %d", len(samples), len(want))
			}
			for n, s := range samples {
				var route, code string
				var ok bool
				fmt.Sscan(want[n], &route, &code, &ok)
				if s.Tags["route"] != route || s.OK != ok {
					t.Errorf("call %d (%s): sample route %q ok=%v, want %q ok=%v", n, code, s.Tags["route"], s.OK, route, ok)
				}
			}
		})
	}
}

func TestClientStreamEndsWithItsResponse(t *testing.T) {
	env := wraptest.Start(t)
	d := &dep{}
	i := newInterceptors(t, env.Client, guarded()...)
	conn := serve(t, d, nil, grpc.WithStreamInterceptor(i.StreamClient()))

	n, err := upload(context.Background(), conn)
	if err != nil || n != 3 {
		t.Fatalf("upload: %d, %v", n, err)
	}
	// The response ends the call: its sample exists without reading on to EOF.
	if got := env.Client.Stats().Produced; got != 1 {
		t.Fatalf("%d samples after the response, want 1", got)
	}
	d.code.Store(uint32(codes.ResourceExhausted))
	if _, err := upload(context.Background(), conn); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("failing upload: %v", err)
	}
	samples := env.Samples(t)
	if len(samples) != 2 || !samples[0].OK || samples[1].OK || samples[1].Tags["route"] != uploadMethod {
		t.Fatalf("samples %+v, want ok then failed, route %s", samples, uploadMethod)
	}
}

func TestSamplesCarryTheSpansTraceID(t *testing.T) {
	env := wraptest.Start(t) // no extractor: the interceptor reads the span
	i := newInterceptors(t, env.Client, tripswitchgrpc.WithRouter(wraptest.Router))
	conn := serve(t, &dep{}, nil, grpc.WithUnaryInterceptor(i.UnaryClient()))
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "call")
	if err := unary(ctx, conn); err != nil {
		t.Fatal(err)
	}
	span.End()
	_ = unary(context.Background(), conn) // no span: no trace ID
	samples := env.Samples(t)
	if len(samples) != 2 || samples[0].TraceID != span.SpanContext().TraceID().String() || samples[1].TraceID != "" {
		t.Fatalf("samples %+v, want the span's trace ID, then none", samples)
	}
}

func TestRejectedCallsAreUnavailable(t *testing.T) {
	env := wraptest.Start(t)
	if err := env.Server.ForceState(env.ProjectID, wraptest.Breaker, "open", 0); err != nil {
		t.Fatal(err)
	}
	wraptest.Eventually(t, "the client to see the breaker open", func() bool { return env.State() == tripswitch.StateOpen })
	d := &dep{}
	i := newInterceptors(t, env.Client, guarded()...)
	local := serve(t, d, nil, grpc.WithUnaryInterceptor(i.UnaryClient()), grpc.WithStreamInterceptor(i.StreamClient()))
	remote := serve(t, d, []grpc.ServerOption{grpc.UnaryInterceptor(i.UnaryServer()), grpc.StreamInterceptor(i.StreamServer())})

	for name, call := range map[string]func() error{
		"unary client":  func() error { return unary(context.Background(), local) },
		"stream client": func() error { return watch(context.Background(), local) },
		"unary server":  func() error { return unary(context.Background(), remote) },
		"stream server": func() error { return watch(context.Background(), remote) },
	} {
		err := call()
		if st, _ := status.FromError(err); st.Code() != codes.Unavailable {
			t.Errorf("%s: status %v, want Unavailable", name, st)
		}
		be, ok := tripswitchgrpc.Rejection(err)
		if !ok || be.Breaker != wraptest.Breaker || be.Reason != tripswitch.ReasonOpen || be.State != tripswitch.StateOpen {
			t.Errorf("%s: Rejection(%v) = %+v, %v", name, err, be, ok)
		}
		if errors.Is(err, tripswitch.ErrOpen) != (name == "unary client" || name == "stream client") {
			t.Errorf("%s: errors.Is(err, ErrOpen) = %v", name, errors.Is(err, tripswitch.ErrOpen))
		}
	}
	if n := d.hits.Load(); n != 0 {
		t.Errorf("%d rejected calls reached the dependency", n)
	}
	if _, ok := tripswitchgrpc.Rejection(status.Error(codes.Unavailable, "plain outage")); ok {
		t.Error("an ordinary Unavailable counted as a rejection")
	}
	if n := len(env.Samples(t)); n != 0 {
		t.Errorf("rejected calls produced %d samples", n)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	env := wraptest.Start(t)
	for name, tc := range map[string]struct {
		c    *tripswitch.Client
		opts []tripswitchgrpc.Option
		want error
	}{
		"nil client": {nil, nil, tripswitch.ErrInvalidOption},
		"conflict": {env.Client, []tripswitchgrpc.Option{tripswitchgrpc.WithBreakers("b"), tripswitchgrpc.WithTarget(func(context.Context, string) tripswitchgrpc.Target {
			return tripswitchgrpc.Target{}
		})}, tripswitch.ErrConflictingOptions},
		"empty name": {env.Client, []tripswitchgrpc.Option{tripswitchgrpc.WithBreakers("")}, tripswitch.ErrInvalidOption},
		"dup metric": {env.Client, []tripswitchgrpc.Option{tripswitchgrpc.WithRouter("r"), tripswitchgrpc.WithCallOptions(tripswitch.WithMetric("latency", 1))}, tripswitch.ErrInvalidOption},
		"bad code":   {env.Client, []tripswitchgrpc.Option{tripswitchgrpc.WithFailureCodes(codes.Code(99))}, tripswitch.ErrInvalidOption},
	} {
		if _, err := tripswitchgrpc.New(tc.c, tc.opts...); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}
