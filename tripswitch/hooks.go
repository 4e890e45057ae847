package tripswitch

import (
	"context"
	"time"
)

// Hooks observe a client. Every field is optional. Hooks let other packages
// (such as an OpenTelemetry bridge) watch the client without the client
// depending on them. A panic in a hook is recovered and logged.
type Hooks struct {
	// StateChange is called for every state change of a breaker the client
	// already knew (not for the first event of a breaker), in the order the
	// changes arrived, from a single goroutine, never under a lock.
	StateChange func(name string, from, to State)

	// Rejected is called on the caller's goroutine when a gated call is
	// rejected, with the call's context. It must be fast and must not block.
	Rejected func(ctx context.Context, err *BreakerError)

	// Flush is called after every attempt to deliver a batch, from the
	// flushing goroutine.
	Flush func(FlushResult)
}

// FlushResult describes one attempt to deliver a batch.
type FlushResult struct {
	Samples    int           // samples in the batch
	Bytes      int           // compressed body size
	StatusCode int           // HTTP status; 0 for a transport error
	Err        error         // nil when delivered
	Retrying   bool          // the batch stays queued and will be retried
	Duration   time.Duration // time the request took
}
