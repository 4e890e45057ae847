package localservertest

import (
	"context"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
)

// shutdownTimeout bounds the Shutdown registered with t.Cleanup.
const shutdownTimeout = 10 * time.Second

// AnyTimestamp is the SampleWindow of a test server whose options leave it
// zero: about a century, so that tests may stamp samples with fixed dates.
// Samples stamped ahead of the server's clock are still evaluated as
// arriving now. Set Config.SampleWindow to test the refusal of samples
// outside a window.
const AnyTimestamp = 100 * 365 * 24 * time.Hour

// Start starts a server on 127.0.0.1:0 with the configuration adjusted by
// opts, and registers its Shutdown with t.Cleanup. A failure to start fails
// the test at once. Unlike a zero [localserver.Config], the SampleWindow
// defaults to [AnyTimestamp]; every other default is the server's.
func Start(t testing.TB, opts ...func(*localserver.Config)) *localserver.Server {
	t.Helper()
	var cfg localserver.Config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.SampleWindow == 0 {
		cfg.SampleWindow = AnyTimestamp
	}
	srv, err := localserver.New(cfg)
	if err != nil {
		t.Fatalf("localservertest: %v", err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("localservertest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("localservertest: shutdown: %v", err)
		}
	})
	return srv
}

// Seed creates (or updates) routers and breakers in the server's default
// project; an invalid seed fails the test at once.
func Seed(t testing.TB, srv *localserver.Server, seed localserver.Seed) {
	t.Helper()
	if err := srv.Seed(srv.Credentials().ProjectID, seed); err != nil {
		t.Fatalf("localservertest: %v", err)
	}
}

// WithClock makes the server read time from c: breaker evaluation, ingest
// timestamp checks and every timestamp it reports. Default: the system
// clock.
func WithClock(c *Clock) func(*localserver.Config) {
	return func(cfg *localserver.Config) { cfg.Now = c.Now }
}

// WithPingInterval sets the period of the ": ping" comments on state
// streams, so that a test can see them without waiting. Default: 15s.
func WithPingInterval(d time.Duration) func(*localserver.Config) {
	return func(cfg *localserver.Config) { cfg.PingInterval = d }
}

// WithEvalTick sets how often the server's evaluation loop looks for
// breakers that are due, so that a test with the system clock sees
// transitions sooner. Default: 100ms. Tests with a [Clock] call
// [localserver.Server.Evaluate] instead.
func WithEvalTick(d time.Duration) func(*localserver.Config) {
	return func(cfg *localserver.Config) { cfg.EvalTick = d }
}
