package tripswitch

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
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

func quote(s string) string { return fmt.Sprintf("%q", s) }

// optionError names the option that failed.
func optionError(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

func conflictError(a, b string) error {
	return fmt.Errorf("%w: %s and %s cannot be used together", ErrConflictingOptions, a, b)
}

// DeliveryError is an ingest request the server answered with an error
// status. For a refusal (Retrying false: 400, 401, 403, 404, 413, …) its
// samples are dropped: Flush and Close return it (joined with the other
// kinds of refusal since the previous Flush), and it is counted in
// Stats.Dropped. A retryable answer (429, 5xx) keeps the samples buffered
// for another attempt. Stats.LastDeliveryError holds the latest of either.
// It never contains credentials: the ingest secret is never sent, and the
// server's text is shortened and stripped of anything shaped like a key.
type DeliveryError struct {
	StatusCode int    // HTTP status
	Code       string // the server's error code, such as "unauthorized"; empty if it sent none
	Message    string // the server's message, at most 256 characters; empty if it sent none
	Samples    int    // samples concerned (for a refusal: dropped)
	Retrying   bool   // the samples stay buffered and will be sent again
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	b.WriteString("tripswitch: ingest answered ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Retrying {
		fmt.Fprintf(&b, "; %d samples will be retried", e.Samples)
	} else {
		fmt.Fprintf(&b, "; %d samples dropped", e.Samples)
	}
	return b.String()
}

// ErrInvalidSample matches (with errors.Is) the errors of Report,
// Reporter.Report, Reporter.ReportValues and NewReporter for a sample the
// ingest contract does not allow; the error names the field and the limit.
var ErrInvalidSample = errors.New("tripswitch: invalid sample")

// credentialShape matches text that looks like a credential or a
// signature: project and admin keys, ingest secrets, HMAC values.
var credentialShape = regexp.MustCompile(`(?i)(eb_pk_|eb_admin_|ik_|v1=)[^\s"',;]*|[0-9a-f]{32,}`)

// cleanServerText makes text from a server fit for an error message: at
// most n characters, no control characters, no credential-shaped words.
func cleanServerText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = credentialShape.ReplaceAllString(s, "[redacted]")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return strings.TrimSpace(s)
}
