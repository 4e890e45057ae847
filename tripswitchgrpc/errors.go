package tripswitchgrpc

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// ErrorDomain is the domain of the errdetails.ErrorInfo that a rejected
// call's status carries.
const ErrorDomain = "tripswitch.dev"

// rejection is a rejected call's error: it matches tripswitch.ErrOpen
// (and errors.As finds the *tripswitch.BreakerError), and its gRPC status
// is Unavailable with an ErrorInfo naming the breaker, so that a server's
// rejection reaches remote clients.
type rejection struct{ err error }

func reject(err error) error {
	if errors.Is(err, tripswitch.ErrOpen) {
		return &rejection{err}
	}
	// A router selector without metadata: not a rejection, a setup problem.
	return status.Error(codes.Internal, "tripswitchgrpc: "+err.Error())
}

func (r *rejection) Error() string { return r.err.Error() }
func (r *rejection) Unwrap() error { return r.err }

// GRPCStatus is the status gRPC sends for the rejection.
func (r *rejection) GRPCStatus() *status.Status {
	st := status.New(codes.Unavailable, r.err.Error())
	var be *tripswitch.BreakerError
	if !errors.As(r.err, &be) {
		return st
	}
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason: reasonNames[be.Reason],
		Domain: ErrorDomain,
		Metadata: map[string]string{
			"breaker": be.Breaker,
			"state":   be.State.String(),
		},
	})
	if err != nil {
		return st
	}
	return withInfo
}

var reasonNames = map[tripswitch.Reason]string{
	tripswitch.ReasonOpen:        "BREAKER_OPEN",
	tripswitch.ReasonThrottled:   "BREAKER_THROTTLED",
	tripswitch.ReasonUnavailable: "BREAKER_UNAVAILABLE",
}

// Rejection returns the breaker rejection that err carries: the local
// rejection of a client interceptor, or the ErrorInfo that a server's
// interceptor attached to its Unavailable status (seen by a remote
// client). ok is false for any other error.
func Rejection(err error) (be *tripswitch.BreakerError, ok bool) {
	if errors.As(err, &be) {
		return be, true
	}
	st, isStatus := status.FromError(err)
	if !isStatus || st.Code() != codes.Unavailable {
		return nil, false
	}
	for _, d := range st.Details() {
		info, isInfo := d.(*errdetails.ErrorInfo)
		if !isInfo || info.GetDomain() != ErrorDomain {
			continue
		}
		for reason, name := range reasonNames {
			if name == info.GetReason() {
				be := &tripswitch.BreakerError{Breaker: info.GetMetadata()["breaker"], Reason: reason}
				_ = be.State.UnmarshalText([]byte(info.GetMetadata()["state"]))
				return be, true
			}
		}
	}
	return nil, false
}
