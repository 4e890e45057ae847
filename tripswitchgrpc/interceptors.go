package tripswitchgrpc

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tripswitch-otel/tripswitch-go/internal/gateset"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Interceptors guards gRPC calls with Tripswitch breakers, on the client
// and on the server, with one set of options. Each call is gated on its
// breakers from the client's local state; a rejected call does not run
// and fails with codes.Unavailable (see Rejection). A call let through
// reports one sample per metric to its router, classified by its status
// code (WithFailureCodes), with the latency from the gate to the end of
// the call and the trace ID of the OpenTelemetry span in the call's
// context (without one, the client's extractor decides). Interceptors
// are safe for concurrent use.
type Interceptors struct {
	cfg   config
	gates *gateset.Set
}

// New checks the options and returns the interceptors; it returns an
// error naming the option when they are invalid.
func New(c *tripswitch.Client, opts ...Option) (*Interceptors, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: tripswitchgrpc: nil *tripswitch.Client", tripswitch.ErrInvalidOption)
	}
	i := &Interceptors{cfg: newConfig(opts)}
	if err := i.cfg.validate(); err != nil {
		return nil, err
	}
	gates, err := gateset.New(gateset.Spec{Client: c, LatencyMetric: i.cfg.latencyMetric, Extra: i.cfg.callOpts},
		gateset.Target{Breakers: i.cfg.breakers, Router: i.cfg.router})
	if err != nil {
		return nil, fmt.Errorf("tripswitchgrpc: %w", err)
	}
	i.gates = gates
	return i, nil
}

// allow gates one call.
func (i *Interceptors) allow(ctx context.Context, method string) (tripswitch.Permit, error) {
	route := method
	if i.cfg.route != nil {
		route = i.cfg.route(method)
	}
	var gate *tripswitch.Gate
	var err error
	if i.cfg.target != nil {
		tt := i.cfg.target(ctx, method)
		gate, err = i.gates.Gate(gateset.Target{Breakers: tt.Breakers, Router: tt.Router, Route: route})
	} else {
		gate, err = i.gates.Route(route)
	}
	if err != nil {
		return tripswitch.Permit{}, status.Error(codes.Internal, "tripswitchgrpc: "+err.Error())
	}
	p, err := gate.Allow(ctx)
	if err != nil {
		return p, reject(err)
	}
	return p, nil
}

// complete reports a finished call.
func (i *Interceptors) complete(p tripswitch.Permit, ctx context.Context, err error) {
	if !p.Pending() {
		return
	}
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return // the caller gave up: nothing to say about the dependency
	}
	failed := err != nil && i.cfg.failures&(1<<status.Code(err)) != 0
	p.Finish(tripswitch.Outcome{OK: !failed, TraceID: gateset.TraceID(ctx)})
}

// UnaryClient returns the unary client interceptor
// (grpc.WithUnaryInterceptor, grpc.WithChainUnaryInterceptor).
func (i *Interceptors) UnaryClient() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		p, err := i.allow(ctx, method)
		if err != nil {
			return err
		}
		err = invoker(ctx, method, req, reply, cc, opts...)
		i.complete(p, ctx, err)
		return err
	}
}

// StreamClient returns the stream client interceptor
// (grpc.WithStreamInterceptor). A stream's call ends when RecvMsg returns
// an error (io.EOF: success) or, for a stream without server streaming,
// its response; a stream whose caller never reads its end reports nothing.
func (i *Interceptors) StreamClient() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		p, err := i.allow(ctx, method)
		if err != nil {
			return nil, err
		}
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || !p.Pending() {
			i.complete(p, ctx, err)
			return cs, err
		}
		return &clientStream{ClientStream: cs, i: i, ctx: ctx, permit: p, single: !desc.ServerStreams}, nil
	}
}

type clientStream struct {
	grpc.ClientStream
	i      *Interceptors
	ctx    context.Context
	permit tripswitch.Permit
	single bool // one response: the call ends with it
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == io.EOF:
		s.i.complete(s.permit, s.ctx, nil)
	case err != nil:
		s.i.complete(s.permit, s.ctx, err)
	case s.single:
		s.i.complete(s.permit, s.ctx, nil)
	}
	return err
}

// UnaryServer returns the unary server interceptor
// (grpc.UnaryInterceptor, grpc.ChainUnaryInterceptor). A rejected call
// does not reach the handler.
func (i *Interceptors) UnaryServer() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		p, err := i.allow(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		finished := false
		defer func() {
			if !finished {
				p.Finish(tripswitch.Outcome{OK: false, TraceID: gateset.TraceID(ctx)}) // the handler panicked
			}
		}()
		resp, err = handler(ctx, req)
		finished = true
		i.complete(p, ctx, err)
		return resp, err
	}
}

// StreamServer returns the stream server interceptor
// (grpc.StreamInterceptor, grpc.ChainStreamInterceptor).
func (i *Interceptors) StreamServer() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		p, err := i.allow(ctx, info.FullMethod)
		if err != nil {
			return err
		}
		finished := false
		defer func() {
			if !finished {
				p.Finish(tripswitch.Outcome{OK: false, TraceID: gateset.TraceID(ctx)}) // the handler panicked
			}
		}()
		err = handler(srv, ss)
		finished = true
		i.complete(p, ctx, err)
		return err
	}
}
