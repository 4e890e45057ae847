package tripswitch_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/faultproxy"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// dependency is a fake downstream service that fails on demand and counts
// the calls that reach it.
type dependency struct {
	failing atomic.Bool
	calls   atomic.Int64
}

var errDependency = errors.New("dependency failed")

func (d *dependency) call() (int, error) {
	d.calls.Add(1)
	if d.failing.Load() {
		return 0, errDependency
	}
	return 1, nil
}

// localEvents records LocalChange hooks and the reasons of rejections.
type localEvents struct {
	mu       sync.Mutex
	changes  []tripswitch.LocalChange
	rejected []tripswitch.Reason
}

func (e *localEvents) hooks() tripswitch.Hooks {
	return tripswitch.Hooks{
		LocalChange: func(ch tripswitch.LocalChange) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.changes = append(e.changes, ch)
		},
		Rejected: func(_ context.Context, err *tripswitch.BreakerError) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.rejected = append(e.rejected, err.Reason)
		},
	}
}

func (e *localEvents) snapshot() []tripswitch.LocalChange {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]tripswitch.LocalChange(nil), e.changes...)
}

func (e *localEvents) has(want tripswitch.LocalChange) bool {
	for _, ch := range e.snapshot() {
		if ch == want {
			return true
		}
	}
	return false
}

// cutStream makes the server unreachable through p and waits until the
// client no longer trusts its state: a gated call is then under local
// control (with a policy) or follows the fail-open rule.
func cutStream(t *testing.T, p *faultproxy.Proxy, c *tripswitch.Client) {
	t.Helper()
	p.Refuse(true)
	p.Reset()
	eventually(t, "stream down", func() bool { return !c.Stats().StreamConnected })
}

func callPayments(c *tripswitch.Client, dep *dependency) error {
	_, err := tripswitch.Execute(c, context.Background(), dep.call,
		tripswitch.WithBreakers("payments"),
		tripswitch.WithRouter("rtr_fault"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	return err
}

// TestLocalFallbackShedsThenServerWins: with the stream cut and the
// dependency failing, the local policy opens the breaker and sheds calls
// with ReasonLocal; once the stream is back, the server's state (closed)
// gates again at once, although the local policy had it open.
func TestLocalFallbackShedsThenServerWins(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	p := newProxy(t, srv)
	var ev localEvents
	c := faultClient(t, p,
		tripswitch.WithStateGracePeriod(0),
		tripswitch.WithLocalFallback(tripswitch.LocalPolicy{ConsecutiveFailures: 3, FailureRate: -1, Cooldown: time.Hour}),
		tripswitch.WithHooks(ev.hooks()),
	)
	waitState(t, c, "payments", tripswitch.StateClosed)
	dep := new(dependency)
	if err := callPayments(c, dep); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.LocalState("payments"); ok {
		t.Fatal("under local control while the state is fresh")
	}

	cutStream(t, p, c)
	dep.failing.Store(true)
	var rejected int
	for range 10 {
		err := callPayments(c, dep)
		var be *tripswitch.BreakerError
		switch {
		case errors.Is(err, errDependency):
		case errors.As(err, &be) && errors.Is(err, tripswitch.ErrOpen) && be.Reason == tripswitch.ReasonLocal && be.State == tripswitch.StateOpen:
			rejected++
		default:
			t.Fatalf("call: %v", err)
		}
	}
	if got := dep.calls.Load(); got != 1+3 {
		t.Fatalf("dependency called %d times during the outage, want 3 (then shed)", got-1)
	}
	if rejected != 7 {
		t.Fatalf("%d calls shed, want 7", rejected)
	}
	if st, ok := c.LocalState("payments"); !ok || st != tripswitch.StateOpen {
		t.Fatalf("local state %v %v, want open", st, ok)
	}
	if !ev.has(tripswitch.LocalChange{Breaker: "payments", Local: true}) ||
		!ev.has(tripswitch.LocalChange{Breaker: "payments", Local: true, From: tripswitch.StateClosed, To: tripswitch.StateOpen}) {
		t.Fatalf("hooks saw %+v", ev.snapshot())
	}

	p.Refuse(false)
	eventually(t, "back under the server's state", func() bool {
		_, local := c.LocalState("payments")
		return !local && c.Stats().StreamConnected
	})
	if !ev.has(tripswitch.LocalChange{Breaker: "payments", From: tripswitch.StateOpen, To: tripswitch.StateClosed}) {
		t.Fatalf("hooks saw %+v", ev.snapshot())
	}
	before := dep.calls.Load()
	if err := callPayments(c, dep); !errors.Is(err, errDependency) {
		t.Fatalf("call after the stream came back: %v, want the dependency's error (server says closed)", err)
	}
	if dep.calls.Load() != before+1 {
		t.Fatal("the call did not reach the dependency")
	}
}

// TestLocalFallbackServerOpenWins: the local policy would let calls
// through, but the server opened the breaker during the outage; once the
// stream is back its state rejects the calls.
func TestLocalFallbackServerOpenWins(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	p := newProxy(t, srv)
	c := faultClient(t, p,
		tripswitch.WithStateGracePeriod(0),
		tripswitch.WithLocalFallback(tripswitch.LocalPolicy{}),
	)
	waitState(t, c, "payments", tripswitch.StateClosed)
	cutStream(t, p, c)
	dep := new(dependency)
	if err := callPayments(c, dep); err != nil {
		t.Fatalf("local policy, healthy dependency: %v", err)
	}
	if st, ok := c.LocalState("payments"); !ok || st != tripswitch.StateClosed {
		t.Fatalf("local state %v %v, want closed", st, ok)
	}
	if err := srv.ForceState(faultProject, "payments", "open", 0); err != nil {
		t.Fatal(err)
	}
	p.Refuse(false)
	waitState(t, c, "payments", tripswitch.StateOpen)
	err := callPayments(c, dep)
	var be *tripswitch.BreakerError
	if !errors.As(err, &be) || be.Reason != tripswitch.ReasonOpen {
		t.Fatalf("call: %v, want the server's open state", err)
	}
}

// TestNoLocalPolicyUnchanged: without a policy a stale client still runs
// every call (fail-open) or rejects every call as unavailable
// (fail-closed), whatever the dependency does.
func TestNoLocalPolicyUnchanged(t *testing.T) {
	for _, failOpen := range []bool{true, false} {
		t.Run(map[bool]string{true: "fail-open", false: "fail-closed"}[failOpen], func(t *testing.T) {
			srv := startFaultServer(t, "")
			seedFault(t, srv)
			p := newProxy(t, srv)
			c := faultClient(t, p, tripswitch.WithStateGracePeriod(0), tripswitch.WithFailOpen(failOpen))
			waitState(t, c, "payments", tripswitch.StateClosed)
			cutStream(t, p, c)
			dep := new(dependency)
			dep.failing.Store(true)
			for range 20 {
				err := callPayments(c, dep)
				var be *tripswitch.BreakerError
				if failOpen && !errors.Is(err, errDependency) {
					t.Fatalf("fail-open call: %v", err)
				}
				if !failOpen && (!errors.As(err, &be) || be.Reason != tripswitch.ReasonUnavailable) {
					t.Fatalf("fail-closed call: %v", err)
				}
			}
			want := int64(0)
			if failOpen {
				want = 20
			}
			if got := dep.calls.Load(); got != want {
				t.Fatalf("dependency called %d times, want %d", got, want)
			}
			if _, ok := c.LocalState("payments"); ok {
				t.Fatal("a breaker is under local control without a policy")
			}
			p.Refuse(false) // let Close deliver the samples
		})
	}
}

// staleClient is a client that never syncs (its server is unreachable),
// so the local policy gates every call, on a manual clock.
func staleClient(t *testing.T, pol tripswitch.LocalPolicy, hooks ...tripswitch.Hooks) (*tripswitch.Client, *manualClock) {
	t.Helper()
	clk := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts := []tripswitch.Option{
		tripswitch.WithBaseURL("http://127.0.0.1:1"),
		tripswitch.WithProjectKey(faultKey),
		tripswitch.WithIngestSecret(faultSecret),
		tripswitch.WithStartupTimeout(0),
		tripswitch.WithMetadataSyncInterval(0),
		tripswitch.WithLocalFallback(pol),
		tripswitch.WithClock(clk.now),
	}
	for _, h := range hooks {
		opts = append(opts, tripswitch.WithHooks(h))
	}
	c, err := tripswitch.NewClient(context.Background(), faultProject, opts...)
	if !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		// Nothing can be delivered: do not wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c, clk
}

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (m *manualClock) now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

func (m *manualClock) advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t = m.t.Add(d)
}

func reason(err error) tripswitch.Reason {
	var be *tripswitch.BreakerError
	if errors.As(err, &be) {
		return be.Reason
	}
	return 0
}

// TestLocalPolicyCooldownAndProbes walks a breaker through open,
// half-open with its probes, a failed probe, and closing.
func TestLocalPolicyCooldownAndProbes(t *testing.T) {
	c, clk := staleClient(t, tripswitch.LocalPolicy{ConsecutiveFailures: 2, FailureRate: -1, Cooldown: time.Minute, HalfOpenProbes: 2})
	dep := new(dependency)
	dep.failing.Store(true)
	for range 2 {
		if err := callPayments(c, dep); !errors.Is(err, errDependency) {
			t.Fatal(err)
		}
	}
	if err := callPayments(c, dep); reason(err) != tripswitch.ReasonLocal {
		t.Fatalf("after 2 failures: %v", err)
	}
	clk.advance(59 * time.Second)
	if err := callPayments(c, dep); reason(err) != tripswitch.ReasonLocal {
		t.Fatalf("before the cooldown: %v", err)
	}
	clk.advance(time.Second)
	// Half-open: a failed probe opens it again.
	if err := callPayments(c, dep); !errors.Is(err, errDependency) {
		t.Fatalf("probe: %v", err)
	}
	if st, _ := c.LocalState("payments"); st != tripswitch.StateOpen {
		t.Fatalf("after a failed probe: %v", st)
	}
	clk.advance(time.Minute)
	dep.failing.Store(false)
	// Two probes at once through the two-step gate; a third is rejected.
	g, err := tripswitch.PrepareGate(c, tripswitch.WithBreakers("payments"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p1, err1 := g.Allow(ctx)
	p2, err2 := g.Allow(ctx)
	_, err3 := g.Allow(ctx)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	var be *tripswitch.BreakerError
	if !errors.As(err3, &be) || be.Reason != tripswitch.ReasonLocal || be.State != tripswitch.StateHalfOpen {
		t.Fatalf("third probe: %v", err3)
	}
	p1.Done(nil)
	if st, _ := c.LocalState("payments"); st != tripswitch.StateHalfOpen {
		t.Fatalf("after one good probe of two: %v", st)
	}
	p2.Done(nil)
	if st, _ := c.LocalState("payments"); st != tripswitch.StateClosed {
		t.Fatalf("after two good probes: %v", st)
	}
	before := dep.calls.Load()
	for range 5 {
		if err := callPayments(c, dep); err != nil {
			t.Fatal(err)
		}
	}
	if dep.calls.Load() != before+5 {
		t.Fatal("closed breaker did not let calls through")
	}
}

// TestLocalPolicyFailureRate trips on the share of failures over the
// window once MinCalls calls were seen, and forgets calls older than the
// window.
func TestLocalPolicyFailureRate(t *testing.T) {
	c, clk := staleClient(t, tripswitch.LocalPolicy{ConsecutiveFailures: -1, FailureRate: 0.5, MinCalls: 10, Window: 10 * time.Second})
	dep := new(dependency)
	run := func(n int, failing bool) {
		dep.failing.Store(failing)
		for range n {
			if err := callPayments(c, dep); reason(err) != 0 {
				t.Fatalf("rejected: %v", err)
			}
		}
	}
	run(5, false)
	run(4, true) // 4 of 9 failed: under MinCalls
	clk.advance(11 * time.Second)
	run(5, true) // the old calls left the window: 5 of 5, under MinCalls
	if st, _ := c.LocalState("payments"); st != tripswitch.StateClosed {
		t.Fatalf("state %v before MinCalls", st)
	}
	run(4, false) // 5 of 9
	dep.failing.Store(true)
	if err := callPayments(c, dep); !errors.Is(err, errDependency) { // 6 of 10: trips
		t.Fatal(err)
	}
	if err := callPayments(c, dep); reason(err) != tripswitch.ReasonLocal {
		t.Fatalf("after the rate tripped: %v", err)
	}
}

// TestLocalPolicyCountsClassifiedOutcomes: ignored errors are successes,
// a panic is a failure, and a call without a router is counted too.
func TestLocalPolicyCountsClassifiedOutcomes(t *testing.T) {
	c, _ := staleClient(t, tripswitch.LocalPolicy{ConsecutiveFailures: 2, FailureRate: -1})
	ctx := context.Background()
	errNotFound := errors.New("not found")
	for range 5 {
		_, err := tripswitch.Execute(c, ctx, func() (int, error) { return 0, errNotFound },
			tripswitch.WithBreakers("search"), tripswitch.WithIgnoreErrors(errNotFound))
		if !errors.Is(err, errNotFound) {
			t.Fatal(err)
		}
	}
	if st, _ := c.LocalState("search"); st != tripswitch.StateClosed {
		t.Fatalf("ignored errors tripped the breaker: %v", st)
	}
	for range 2 {
		func() {
			defer func() { _ = recover() }()
			_, _ = tripswitch.Execute(c, ctx, func() (int, error) { panic("boom") }, tripswitch.WithBreakers("search"))
		}()
	}
	if st, _ := c.LocalState("search"); st != tripswitch.StateOpen {
		t.Fatalf("two panics: %v, want open", st)
	}
}

func TestLocalPolicyValidation(t *testing.T) {
	for _, p := range []tripswitch.LocalPolicy{
		{FailureRate: 1.5},
		{ConsecutiveFailures: -1, FailureRate: -1},
		{Cooldown: -time.Second},
		{Window: -time.Second},
		{HalfOpenProbes: -1},
		{MinCalls: -1},
	} {
		_, err := tripswitch.NewClient(context.Background(), faultProject, tripswitch.WithLocalFallback(p))
		if !errors.Is(err, tripswitch.ErrInvalidOption) {
			t.Errorf("%+v: %v, want ErrInvalidOption", p, err)
		}
	}
}

func TestReasonLocalString(t *testing.T) {
	err := &tripswitch.BreakerError{Breaker: "payments", State: tripswitch.StateOpen, Reason: tripswitch.ReasonLocal}
	if tripswitch.ReasonLocal.String() != "local" || err.Error() != `tripswitch: breaker "payments" has no fresh state and the local fallback policy holds it open` {
		t.Fatalf("%q, %q", tripswitch.ReasonLocal, err)
	}
}
