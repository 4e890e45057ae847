package tripswitchgrpc_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tripswitch-otel/tripswitch-go/internal/wraptest"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
	"github.com/tripswitch-otel/tripswitch-go/tripswitchgrpc"
)

// connect starts the project's local Tripswitch server with a inventory
// router and breaker, and a client of it, for the examples.
func connect() (*localserver.Server, *tripswitch.Client) {
	return wraptest.Connect("rtr_inventory", "inventory-errors")
}

func ExampleNew() {
	srv, client := connect()
	defer srv.Shutdown(context.Background())
	defer client.Close(context.Background())

	guard, err := tripswitchgrpc.New(client,
		tripswitchgrpc.WithBreakers("inventory-errors"),
		tripswitchgrpc.WithRouter("rtr_inventory"),
	)
	if err != nil {
		log.Fatal(err)
	}

	// An in-process inventory service; a real one would be a network address.
	lis := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	server.RegisterService(&depDesc, &dep{})
	go server.Serve(lis)
	defer server.Stop()

	conn, err := grpc.NewClient("passthrough:///inventory",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(guard.UnaryClient()),
		grpc.WithChainStreamInterceptor(guard.StreamClient()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	reply := new(wrapperspb.StringValue)
	err = conn.Invoke(context.Background(), "/tripswitch.test.Dep/Call", wrapperspb.String("sku-42"), reply)
	fmt.Println(reply.GetValue(), status.Code(err))

	_ = srv.ForceState(client.ProjectID(), "inventory-errors", "open", 0)
	for st, _ := client.State("inventory-errors"); st.State != tripswitch.StateOpen; st, _ = client.State("inventory-errors") {
		time.Sleep(5 * time.Millisecond)
	}
	err = conn.Invoke(context.Background(), "/tripswitch.test.Dep/Call", wrapperspb.String("sku-42"), reply)
	be, _ := tripswitchgrpc.Rejection(err)
	fmt.Println(status.Code(err), be.Breaker)
	// Output:
	// pong sku-42 OK
	// Unavailable inventory-errors
}

// On the server, the interceptors shed load: a rejected call answers
// Unavailable before the handler runs, and its status names the breaker
// for the remote client (Rejection).
func ExampleInterceptors_UnaryServer() {
	srv, client := connect()
	defer srv.Shutdown(context.Background())
	defer client.Close(context.Background())

	guard, err := tripswitchgrpc.New(client,
		tripswitchgrpc.WithBreakers("inventory-errors"),
		tripswitchgrpc.WithRouter("rtr_inventory"),
		tripswitchgrpc.WithFailureCodes(codes.Internal, codes.Unknown), // the service's own faults
	)
	if err != nil {
		log.Fatal(err)
	}
	server := grpc.NewServer(
		grpc.ChainUnaryInterceptor(guard.UnaryServer()),
		grpc.ChainStreamInterceptor(guard.StreamServer()),
	)
	fmt.Println(server != nil)
	// Output: true
}
