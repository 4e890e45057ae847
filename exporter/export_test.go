package exporter

import (
	"context"
	"time"
)

// Sink is the internal sample sink, for tests that record samples.
type Sink interface {
	Report(ctx context.Context, t time.Time, value float64, ok bool, traceID string) error
}

// WithSinks replaces the client's reporters with sinks made by f.
func WithSinks(f func(router, metric string, tags map[string]string) (Sink, error)) Option {
	return optionFunc(func(c *config) {
		c.newSink = func(router, metric string, tags map[string]string) (sink, error) {
			return f(router, metric, tags)
		}
	})
}

// WithClock sets the exporter's clock.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}
