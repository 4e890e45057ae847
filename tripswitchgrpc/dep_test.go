package tripswitchgrpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// dep is an in-process gRPC service with a unary method and a server
// streaming one; it answers with the status code it is told to and counts
// the calls that reached it.
type dep struct {
	code  atomic.Uint32 // codes.Code to fail with; OK answers normally
	plain atomic.Bool   // fail with a plain error (codes.Unknown)
	hits  atomic.Int64
}

const (
	callMethod   = "/tripswitch.test.Dep/Call"
	watchMethod  = "/tripswitch.test.Dep/Watch"
	uploadMethod = "/tripswitch.test.Dep/Upload"
)

var depDesc = grpc.ServiceDesc{
	ServiceName: "tripswitch.test.Dep",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) { return srv.(*dep).call(req.(*wrapperspb.StringValue)) }
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: callMethod}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			d := srv.(*dep)
			d.hits.Add(1)
			for range 3 {
				if err := ss.SendMsg(in); err != nil {
					return err
				}
			}
			return d.err()
		},
	}, {
		StreamName:    "Upload",
		ClientStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			d := srv.(*dep)
			d.hits.Add(1)
			n := 0
			for {
				err := ss.RecvMsg(new(wrapperspb.StringValue))
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				n++
			}
			if err := d.err(); err != nil {
				return err
			}
			return ss.SendMsg(wrapperspb.Int64(int64(n)))
		},
	}},
}

func (d *dep) err() error {
	if d.plain.Load() {
		return errors.New("plain failure")
	}
	if c := codes.Code(d.code.Load()); c != codes.OK {
		return status.Error(c, "dependency says "+c.String())
	}
	return nil
}

func (d *dep) call(in *wrapperspb.StringValue) (any, error) {
	d.hits.Add(1)
	if err := d.err(); err != nil {
		return nil, err
	}
	return wrapperspb.String("pong " + in.GetValue()), nil
}

// serve starts dep on a bufconn listener with the server options and
// returns a client connection with the dial options; both stop with the
// test.
func serve(t testing.TB, d *dep, sopts []grpc.ServerOption, dopts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(sopts...)
	srv.RegisterService(&depDesc, d)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	dial := func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }
	conn, err := grpc.NewClient("passthrough:///dep", append([]grpc.DialOption{
		grpc.WithContextDialer(dial),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, dopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		<-done
	})
	return conn
}

func unary(ctx context.Context, conn *grpc.ClientConn) error {
	return conn.Invoke(ctx, callMethod, wrapperspb.String("ping"), new(wrapperspb.StringValue))
}

// watch runs the streaming method to its end and returns its error.
func watch(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := conn.NewStream(ctx, &depDesc.Streams[0], watchMethod)
	if err != nil {
		return err
	}
	if err := s.SendMsg(wrapperspb.String("ping")); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	for {
		err := s.RecvMsg(new(wrapperspb.StringValue))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// upload sends three messages on the client streaming method and returns
// the count the server answered.
func upload(ctx context.Context, conn *grpc.ClientConn) (int64, error) {
	s, err := conn.NewStream(ctx, &depDesc.Streams[1], uploadMethod)
	if err != nil {
		return 0, err
	}
	for range 3 {
		if err := s.SendMsg(wrapperspb.String("part")); err != nil {
			break // the status comes with RecvMsg
		}
	}
	if err := s.CloseSend(); err != nil {
		return 0, err
	}
	n := new(wrapperspb.Int64Value)
	if err := s.RecvMsg(n); err != nil {
		return 0, err
	}
	return n.GetValue(), nil
}
