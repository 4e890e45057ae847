package otelbridge_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/tripswitch-otel/tripswitch-go/internal/faultproxy"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestLocalControlShowsInMetrics: with the stream cut, a breaker tripped by
// the local fallback policy shows in tripswitch.breaker.local.state and
// .transitions and its rejections carry the reason "local"; once the
// stream is back the local state is gone and the hand-back is counted.
func TestLocalControlShowsInMetrics(t *testing.T) {
	srv := startServer(t)
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	b, reader := newBridge(t)
	c := newClient(t, srv, append(b.ClientOptions(),
		tripswitch.WithBaseURL(p.URL()),
		tripswitch.WithStateGracePeriod(0),
		tripswitch.WithLocalFallback(tripswitch.LocalPolicy{ConsecutiveFailures: 2}),
	)...)
	if err := b.Observe(c); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	local := func(state string) string {
		return "tripswitch.breaker.local.state{tripswitch.breaker.name=" + breaker + ",tripswitch.breaker.state=" + state + "}"
	}
	move := func(from, to string, underLocal string) string {
		return "tripswitch.breaker.local.transitions{tripswitch.breaker.local=" + underLocal + ",tripswitch.breaker.name=" + breaker +
			",tripswitch.breaker.previous_state=" + from + ",tripswitch.breaker.state=" + to + "}"
	}
	if pts, _ := collect(t, reader); len(pts) > 0 {
		if _, ok := pts[local("closed")]; ok {
			t.Fatal("local state reported while the state is fresh")
		}
	}

	p.Refuse(true)
	p.Reset()
	waitFor(t, "the stream to drop", func() bool { return !c.Stats().StreamConnected })
	var shed int
	for range 5 {
		_, err := tripswitch.Execute(c, context.Background(), failingTask, tripswitch.WithBreakers(breaker))
		var be *tripswitch.BreakerError
		if errors.As(err, &be) && be.Reason == tripswitch.ReasonLocal {
			shed++
		}
	}
	if shed != 3 {
		t.Fatalf("%d calls shed by the local policy, want 3", shed)
	}
	pts, _ := collect(t, reader)
	want := points{
		local("open"):                    1,
		local("closed"):                  0,
		local("half_open"):               0,
		move("closed", "closed", "true"): 1,
		move("closed", "open", "true"):   1,
		"tripswitch.breaker.rejections{tripswitch.breaker.name=" + breaker + ",tripswitch.rejection.reason=local}": 3,
	}
	check(t, "under local control", pts, want)

	p.Refuse(false)
	waitFor(t, "the stream to come back", func() bool {
		return c.Stats().StreamConnected && len(c.LocalStates()) == 0
	})
	pts, _ = collect(t, reader)
	if _, ok := pts[local("open")]; ok {
		t.Error("local state still reported after the stream came back")
	}
	check(t, "back under the server's state", pts, points{move("open", "closed", "false"): 1})
}
