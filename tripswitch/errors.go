package tripswitch

import (
	"errors"
	"fmt"
)

var (
	// ErrOpen matches every rejection by a breaker: open, throttled in
	// half-open, or unavailable (fail-closed without fresh state). Use
	// errors.As with *BreakerError for the breaker and the reason.
	ErrOpen = errors.New("tripswitch: breaker open")

	// ErrConflictingOptions reports mutually exclusive call options, such as
	// WithBreakers together with WithBreakerSelector.
	ErrConflictingOptions = errors.New("tripswitch: conflicting options")

	// ErrMetadataUnavailable reports a selector used before the metadata
	// cache was first filled (or with metadata sync disabled).
	ErrMetadataUnavailable = errors.New("tripswitch: metadata unavailable")

	// ErrClosed is returned by calls that need a running client after Close.
	ErrClosed = errors.New("tripswitch: client closed")

	// ErrNotSynced is returned (wrapped) by NewClient, together with a
	// working client, when the server could not be reached before ctx ended
	// or the startup timeout passed (WithStartupTimeout). The client keeps
	// connecting in the background and gates calls by the fail-open rule
	// (WithFailOpen) until it has the breaker states; log the error and
	// carry on, and Close the client as usual. WaitSynced waits for the
	// first sync later. Refusals that retrying cannot fix (a wrong key or
	// project, an untrusted certificate) are returned without a client and
	// do not match ErrNotSynced.
	ErrNotSynced = errors.New("tripswitch: breaker states not synced yet")

	// ErrInvalidOption reports an option with a value it cannot take; the
	// error names the option.
	ErrInvalidOption = errors.New("tripswitch: invalid option")
)

// Reason says why a call was rejected.
type Reason uint8

// The rejection reasons.
const (
	// ReasonOpen: a named breaker is open.
	ReasonOpen Reason = iota + 1
	// ReasonThrottled: a named breaker is half-open and the call fell
	// outside its allow rate.
	ReasonThrottled
	// ReasonUnavailable: fail-open is off and the client has no fresh state.
	ReasonUnavailable
)

// String returns "open", "throttled" or "unavailable".
func (r Reason) String() string {
	switch r {
	case ReasonOpen:
		return "open"
	case ReasonThrottled:
		return "throttled"
	case ReasonUnavailable:
		return "unavailable"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// BreakerError is the error of a rejected call. It matches ErrOpen with
// errors.Is. BreakerError values are shared and must not be modified.
type BreakerError struct {
	Breaker string // the breaker that rejected the call
	State   State  // its cached state (closed for ReasonUnavailable)
	Reason  Reason
}

func (e *BreakerError) Error() string {
	switch e.Reason {
	case ReasonThrottled:
		return "tripswitch: breaker " + quote(e.Breaker) + " is half-open and throttled the call"
	case ReasonUnavailable:
		return "tripswitch: breaker " + quote(e.Breaker) + " has no fresh state and fail-open is off"
	}
	return "tripswitch: breaker " + quote(e.Breaker) + " is open"
}

// Is reports whether target is ErrOpen.
func (e *BreakerError) Is(target error) bool { return target == ErrOpen }

// IsBreakerError reports whether err is (or wraps) a rejection by a breaker.
func IsBreakerError(err error) bool {
	var be *BreakerError
	return errors.As(err, &be)
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// optionError names the option that failed.
func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

func conflictError(a, b string) error {
	return fmt.Errorf("%w: %s and %s cannot be used together", ErrConflictingOptions, a, b)
}
