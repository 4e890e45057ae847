package tripswitchgrpc_test

import (
	"context"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tripswitch-otel/tripswitch-go/internal/wraptest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// The benchmarks measure the interceptors' overhead: compare each Wrapped
// figure with the Bare one (a no-op invoker, streamer or handler called
// directly). The breaker is closed and the client sends nothing while
// they run.

func benchInterceptors(b *testing.B) *wraptest.Env {
	return wraptest.Start(b,
		tripswitch.WithFlushInterval(time.Hour),
		tripswitch.WithBatchSize(1<<30),
		tripswitch.WithBufferCapacity(1<<16),
	)
}

func BenchmarkUnaryClient(b *testing.B) {
	env := benchInterceptors(b)
	ctx := context.Background()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	b.Run("Bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = invoker(ctx, callMethod, nil, nil, nil)
		}
	})
	uc := newInterceptors(b, env.Client, guarded()...).UnaryClient()
	b.Run("Wrapped", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := uc(ctx, callMethod, nil, nil, nil, invoker); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// nopStream is a client stream that ends at once.
type nopStream struct{ grpc.ClientStream }

func (nopStream) RecvMsg(any) error { return io.EOF }

func BenchmarkStreamClient(b *testing.B) {
	env := benchInterceptors(b)
	ctx := context.Background()
	desc := &grpc.StreamDesc{ServerStreams: true}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return nopStream{}, nil
	}
	run := func(b *testing.B, open func() (grpc.ClientStream, error)) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := open()
			if err != nil {
				b.Fatal(err)
			}
			_ = s.RecvMsg(nil)
		}
	}
	b.Run("Bare", func(b *testing.B) {
		run(b, func() (grpc.ClientStream, error) { return streamer(ctx, desc, nil, watchMethod) })
	})
	sc := newInterceptors(b, env.Client, guarded()...).StreamClient()
	b.Run("Wrapped", func(b *testing.B) {
		run(b, func() (grpc.ClientStream, error) { return sc(ctx, desc, nil, watchMethod, streamer) })
	})
}

func BenchmarkUnaryServer(b *testing.B) {
	env := benchInterceptors(b)
	ctx := context.Background()
	info := &grpc.UnaryServerInfo{FullMethod: callMethod}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.Run("Bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = handler(ctx, nil)
		}
	})
	us := newInterceptors(b, env.Client, guarded()...).UnaryServer()
	b.Run("Wrapped", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := us(ctx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
}
