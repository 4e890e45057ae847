package tripswitch_test

// Fault injection: the runtime client against the project's local server
// through an in-process TCP proxy that delays, stalls, cuts and resets
// connections.

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/faultproxy"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

const (
	faultProject = "proj_fault"
	faultKey     = "eb_pk_fault_0123456789abcdef"
	faultSecret  = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	faultAdmin   = "eb_admin_fault_0123456789abcdef"
)

// startFaultServer starts a local server with fixed credentials, so that a
// restarted one is the same project.
func startFaultServer(t *testing.T, dataFile string) *localserver.Server {
	t.Helper()
	srv, err := localserver.New(localserver.Config{
		AdminKey:     faultAdmin,
		ProjectID:    faultProject,
		ProjectKey:   faultKey,
		IngestSecret: faultSecret,
		PingInterval: 100 * time.Millisecond,
		DataFile:     dataFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(srv) })
	return srv
}

func shutdown(srv *localserver.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

func seedFault(t *testing.T, srv *localserver.Server) {
	t.Helper()
	err := srv.Seed(faultProject, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_fault", Name: "fault"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "payments", Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5,
			MinCount: 1_000_000, RouterIDs: []string{"rtr_fault"}, // never trips by itself
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hostOf(t *testing.T, srv *localserver.Server) string {
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func newProxy(t *testing.T, srv *localserver.Server) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(hostOf(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func faultClient(t *testing.T, p *faultproxy.Proxy, opts ...tripswitch.Option) *tripswitch.Client {
	t.Helper()
	base := []tripswitch.Option{
		tripswitch.WithBaseURL(p.URL()),
		tripswitch.WithProjectKey(faultKey),
		tripswitch.WithIngestSecret(faultSecret),
		tripswitch.WithReconnectBackoff(20*time.Millisecond, 40*time.Millisecond, 80*time.Millisecond),
		tripswitch.WithFlushInterval(100 * time.Millisecond),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tripswitch.NewClient(ctx, faultProject, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeClient(t, c) })
	return c
}

func waitState(t *testing.T, c *tripswitch.Client, name string, want tripswitch.State) {
	t.Helper()
	eventually(t, name+" "+want.String(), func() bool {
		st, _ := c.State(name)
		return st.State == want
	})
}

func TestFaultServerRestartedMidStream(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.json")
	srv := startFaultServer(t, data)
	seedFault(t, srv)
	p := newProxy(t, srv)
	c := faultClient(t, p)
	waitState(t, c, "payments", tripswitch.StateClosed)

	if err := srv.ForceState(faultProject, "payments", "open", 0); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "payments", tripswitch.StateOpen)

	// Restart: the server goes away (its streams end), a new process
	// loads the persisted state, and the proxy points at it.
	shutdown(srv)
	p.Reset()
	srv2 := startFaultServer(t, data)
	p.SetTarget(hostOf(t, srv2))
	if err := srv2.ForceState(faultProject, "payments", "half_open", 0.25); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "payments", tripswitch.StateHalfOpen)
	st, _ := c.State("payments")
	srvState, rate, err := srv2.BreakerState(faultProject, "payments")
	if err != nil || srvState != st.State.String() || rate != st.AllowRate {
		t.Fatalf("client %+v, server %s %v (%v)", st, srvState, rate, err)
	}
	if s := c.Stats(); s.StreamReconnects < 1 || !s.StreamConnected {
		t.Fatalf("stats %+v", s)
	}
}

// TestFaultIngestOutageLosesNothing reports 1,000 samples/s while the
// server is unreachable for 10 s; afterwards every sample is at the server.
func TestFaultIngestOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 s")
	}
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	p := newProxy(t, srv)
	c := faultClient(t, p, tripswitch.WithBufferCapacity(20_000))
	rep, err := c.NewReporter("rtr_fault", "latency", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func() {
		t.Helper()
		checkIdentity(t, c.Stats())
	}
	// produce reports n samples at about 1,000 per second (100 every
	// 100 ms), checking the stats identity along the way.
	produce := func(from, n int) {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := from; i < from+n; i++ {
			if err := rep.Report(ctx, time.Time{}, float64(i), true, ""); err != nil {
				t.Fatal(err)
			}
			if i%100 == 99 {
				check()
				<-tick.C
			}
		}
	}
	produce(0, 1000)
	p.Refuse(true)
	p.Reset()
	produce(1000, 10_000) // 10 s with the server unreachable
	next := 11_000
	if s := c.Stats(); s.FlushFailures == 0 || s.Buffered == 0 {
		t.Fatalf("the outage was not felt: %+v", s)
	}
	p.Refuse(false)
	produce(next, 1000)
	next += 1000
	eventually(t, "every sample delivered", func() bool {
		check()
		return c.Stats().Delivered == uint64(next)
	})
	s := c.Stats()
	if s.Dropped != 0 || s.Produced != uint64(next) {
		t.Fatalf("stats %+v", s)
	}
	got := srv.Samples(faultProject)
	seen := make(map[float64]bool, len(got))
	for _, smp := range got {
		seen[smp.Value] = true
	}
	for i := range next {
		if !seen[float64(i)] {
			t.Fatalf("sample %d never reached the server (%d of %d did)", i, len(seen), next)
		}
	}
	t.Logf("%d samples through a 10 s outage: %d delivered, %d dropped, %d failed attempts", next, s.Delivered, s.Dropped, s.FlushFailures)
}

// TestFaultOutageLongerThanBuffer overflows the buffer during an outage:
// exactly the overflow is dropped, recent samples are kept and delivered,
// and a sample reported into the full buffer allocates nothing (so memory
// stays bounded however long the outage lasts).
func TestFaultOutageLongerThanBuffer(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	p := newProxy(t, srv)
	c := faultClient(t, p, tripswitch.WithBufferCapacity(1000), tripswitch.WithBatchSize(100))
	p.Refuse(true)
	p.Reset()
	rep, _ := c.NewReporter("rtr_fault", "latency", nil)
	ctx := context.Background()
	for i := range 5_000 {
		_ = rep.Report(ctx, time.Time{}, float64(i), true, "")
	}
	// The buffer is full; AllocsPerRun counts the whole process's
	// allocations, the flusher's retries included, per report.
	i := 5_000
	allocs := testing.AllocsPerRun(45_000-1, func() {
		_ = rep.Report(ctx, time.Time{}, float64(i), true, "")
		i++
	})
	if allocs != 0 {
		t.Fatalf("a report into a full buffer allocates %v times", allocs)
	}
	const produced = 50_000 // AllocsPerRun runs once more to warm up
	// A batch in flight when the buffer overflowed keeps its overwritten
	// samples counted as buffered until its attempt fails; then exactly
	// the overflow is dropped.
	eventually(t, "the attempt in flight to fail", func() bool {
		s := c.Stats()
		checkIdentity(t, s)
		return s.Buffered == 1000
	})
	s := c.Stats()
	if s.Produced != produced || s.Buffered != 1000 || s.Dropped != produced-1000 {
		t.Fatalf("stats %+v, want 1000 buffered and exactly %d dropped", s, produced-1000)
	}
	p.Refuse(false)
	eventually(t, "buffer delivered", func() bool { return c.Stats().Delivered == 1000 })
	got := srv.Samples(faultProject)
	if len(got) != 1000 {
		t.Fatalf("server has %d samples", len(got))
	}
	for i, smp := range got {
		// Each of the buffer's shards keeps its own newest samples:
		// every one kept is among the newest few thousand.
		if smp.Value < produced-8*1000 {
			t.Fatalf("sample %d = %v: an old sample survived the overflow", i, smp.Value)
		}
	}
}

// TestFaultSilentStream stalls the connection (open, no bytes): the client
// replaces it, rejects gated calls as unavailable once the grace period
// has passed (fail-closed), and allows them again after resync.
func TestFaultSilentStream(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	p := newProxy(t, srv)
	c := faultClient(t, p,
		tripswitch.WithFailOpen(false),
		tripswitch.WithStreamIdleTimeout(400*time.Millisecond),
		tripswitch.WithStateGracePeriod(800*time.Millisecond),
	)
	run := func() error {
		_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("payments"))
		return err
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	reconnects := c.Stats().StreamReconnects
	p.Stall()
	eventually(t, "unavailable rejection", func() bool {
		var be *tripswitch.BreakerError
		return errors.As(run(), &be) && be.Reason == tripswitch.ReasonUnavailable
	})
	if s := c.Stats(); s.StreamReconnects <= reconnects {
		t.Fatalf("silent stream not replaced: %+v", s)
	}
	p.Resume()
	p.Cut() // drop the stalled connections so the client reconnects now
	eventually(t, "allowed after resync", func() bool { return run() == nil })
}

// TestFaultBlackHole: a server that accepts and never answers. Execute
// never waits on it and Close returns by its deadline (goleak in TestMain
// checks that nothing is left running).
func TestFaultBlackHole(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	p := newProxy(t, srv)
	c := faultClient(t, p)
	p.Stall()
	p.Cut()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return i, nil },
					tripswitch.WithBreakers("payments"), tripswitch.WithRouter("rtr_fault"),
					tripswitch.WithMetric("latency", tripswitch.Latency), tripswitch.WithTag("g", string(rune('a'+g))))
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	if err == nil {
		t.Fatal("Close claimed delivery through a black hole")
	}
	if ctx.Err() == nil {
		t.Fatalf("Close returned before its deadline without delivering: %v", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Produced != 2000 {
		t.Fatalf("stats %+v", s)
	}
	p.Resume()
}
