package tripswitch

import (
	"context"
	"sync/atomic"
	"time"
)

// Hooks observe a client. Every field is optional. Hooks let other packages
// (such as an OpenTelemetry bridge) watch the client without the client
// depending on them. A panic in a hook is recovered and logged.
type Hooks struct {
	// StateChange is called for every state change of a breaker the client
	// already knew (not for the first event of a breaker), in the order the
	// changes arrived, from a single goroutine, never under a lock.
	//
	// Changes wait in a queue while the hook runs. When the queue holds
	// 1024 changes, a new change of a breaker that already has one queued
	// is merged into it (from the older change's from to the newer one's
	// to; a merge that ends where it began is not delivered), so that the
	// hook always learns each breaker's latest state and a slow hook costs
	// bounded memory. Stats.StateChangesCoalesced counts the merged
	// changes.
	StateChange func(name string, from, to State)

	// Rejected is called on the caller's goroutine when a gated call is
	// rejected, with the call's context. It must be fast and must not block.
	Rejected func(ctx context.Context, err *BreakerError)

	// Flush is called after every attempt to deliver a batch (and to
	// deliver each part of a refused batch being split), once Stats shows
	// its outcome, from the flushing goroutine, which waits for it: it
	// must not block. Close
	// does not wait past its deadline for a Flush hook that has not
	// returned (it says so in its error).
	Flush func(FlushResult)

	// LocalChange is called when a breaker comes under the local fallback
	// policy (WithLocalFallback), changes state under it, or goes back to
	// the service's state, on the goroutine whose call (or, on leaving,
	// whose stream sync) caused the change. It must be fast and must not
	// block.
	LocalChange func(LocalChange)
}

// FlushResult describes one attempt to deliver a batch.
type FlushResult struct {
	Samples    int           // samples in the batch
	Bytes      int           // compressed body size
	StatusCode int           // HTTP status; 0 for a transport error
	Err        error         // nil when delivered; a *DeliveryError when the server answered with an error
	Retrying   bool          // the batch stays queued and will be retried
	Duration   time.Duration // time the request took
}

// hookRunner calls the hooks of one goroutine (the flusher's or the
// dispatcher's). It recovers their panics, and lets Close stop calling
// them and tell whether one is still running.
type hookRunner struct {
	abandoned atomic.Bool
	running   atomic.Bool
}

// call runs fn unless the runner was abandoned.
func (h *hookRunner) call(c *Client, what string, fn func()) {
	h.running.Store(true)
	defer h.running.Store(false)
	if h.abandoned.Load() {
		return
	}
	c.safely(what, fn)
}

// abandon stops later calls and reports whether a hook is running now.
// When it reports false, no hook of this runner runs again.
func (h *hookRunner) abandon() (running bool) {
	h.abandoned.Store(true)
	return h.running.Load()
}
