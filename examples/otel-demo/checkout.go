package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// paymentsTimeout is how long checkout waits for payments.
const paymentsTimeout = time.Second

// Checkout outcomes, sent in the outcomeHeader of every answer.
const (
	outcomeHeader   = "X-Checkout-Outcome"
	outcomePaid     = "paid"
	outcomeFallback = "fallback"
	outcomeFailed   = "failed"
)

// checkout is the demo's service: POST /checkout charges the order through
// payments under the payments breakers. When a breaker rejects the call it
// answers with a fallback (the order is accepted and charged later) instead
// of an error.
type checkout struct {
	http        *http.Client // gated on the payments breakers (tripswitchhttp), instrumented with otelhttp
	paymentsURL string
}

func (c *checkout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	w.Header().Set("Content-Type", "application/json")

	_, err := c.charge(ctx)
	var rejected *tripswitch.BreakerError
	switch {
	case err == nil:
		w.Header().Set(outcomeHeader, outcomePaid)
		_, _ = io.WriteString(w, `{"status":"paid"}`+"\n")
	case errors.As(err, &rejected):
		// The fallback: accept the order, charge it when payments is back.
		span.SetAttributes(attribute.Bool("checkout.fallback", true))
		w.Header().Set(outcomeHeader, outcomeFallback)
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, `{"status":"accepted","payment":"deferred","breaker":%q}`+"\n", rejected.Breaker)
	default:
		w.Header().Set(outcomeHeader, outcomeFailed)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"status":"failed"}`+"\n")
	}
}

// charge calls payments once.
func (c *checkout) charge(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, paymentsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.paymentsURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("payments: %s", resp.Status)
	}
	return string(body), nil
}
