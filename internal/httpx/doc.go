// Package httpx holds the HTTP helpers that the runtime client (tripswitch)
// and the management client (admin) share: base-URL checks, the loopback
// test that guards plain http, Retry-After parsing, draining response
// bodies, and retry backoff with jitter. Errors and results carry no
// package prefix; callers word them in their own vocabulary.
package httpx
