// Package tripswitchgrpc guards gRPC calls with Tripswitch breakers:
// unary and streaming interceptors for clients and servers, built from one
// set of options.
//
//	guard, err := tripswitchgrpc.New(client,
//		tripswitchgrpc.WithBreakers("inventory-errors"),
//		tripswitchgrpc.WithRouter("rtr_inventory"),
//	)
//	...
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(guard.UnaryClient()),
//		grpc.WithChainStreamInterceptor(guard.StreamClient()),
//	)
//
// Each call is gated from the client's local state. A rejected call does
// not run: it fails with codes.Unavailable, the error matches
// tripswitch.ErrOpen on the client that rejected it, and its status
// carries an errdetails.ErrorInfo naming the breaker, which Rejection
// reads back on a remote client. A call let through reports one sample
// per metric, tagged route=<full method>, classified by its status code:
// by default Unavailable, DeadlineExceeded, ResourceExhausted, Internal
// and Unknown are failures and every other code (Canceled included) is a
// success, while a call whose own context was cancelled reports nothing.
//
// On the server, UnaryServer and StreamServer shed load on the service's
// own methods in the same way.
package tripswitchgrpc
