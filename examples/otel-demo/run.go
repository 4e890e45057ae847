package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
	"github.com/tripswitch-otel/tripswitch-go/tripswitchhttp"
)

// Sample metrics of the payments router, one per source.
const (
	spanMetric     = "span.latency"                 // otelbridge.SpanProcessor: checkout's client spans
	exporterMetric = "http.client.request.duration" // exporter: otelhttp's client histogram
)

// Timeouts of the demo's own plumbing.
const (
	connectTimeout  = 20 * time.Second // first state event from the server
	shutdownTimeout = 15 * time.Second // flushing and stopping everything
)

// run sets everything up, drives the schedule, tears everything down
// (flushing samples, spans and metrics) and returns what happened. It
// returns an error only when the demo could not run; whether the breakers
// behaved is summary.OK. Cancelling ctx ends the load early.
func run(ctx context.Context, cfg config, stdout io.Writer) (*summary, error) {
	sched := newSchedule(cfg.Duration)
	paint := painter(cfg.Color)
	st := &stack{}
	// Teardown never depends on ctx: an interrupted run still flushes.
	defer func() { _ = st.closeAll(context.WithoutCancel(ctx)) }()

	// The endpoints the user named listen first, so that a busy port is
	// reported before anything starts.
	checkoutLn, err := st.listen("checkout-addr", cfg.CheckoutAddr, cfg.CheckoutAddrGiven)
	if err != nil {
		return nil, err
	}
	var metricsLn *listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = st.listen("metrics-addr", cfg.MetricsAddr, cfg.MetricsAddrGiven); err != nil {
			return nil, err
		}
	}

	be, err := startBackend(cfg)
	if err != nil {
		return nil, err
	}
	st.backend = be

	specs := sched.breakers()
	var routerID string
	var breakerIDs map[string]string
	if be.Admin != nil {
		if routerID, breakerIDs, err = be.provision(ctx, specs); err != nil {
			return nil, err
		}
	}

	// The bridge's instruments are created by Observe, once the
	// MeterProvider exists: its Tripswitch exporter needs the client, and
	// the client needs the bridge's hooks.
	bridge := otelbridge.New()
	st.bridge = bridge

	tl := newTimeline()
	rej := new(rejections)
	opts := append(bridge.ClientOptions(),
		tripswitch.WithBaseURL(be.BaseURL),
		tripswitch.WithProjectKey(be.ProjectKey),
		tripswitch.WithIngestSecret(be.IngestSecret),
		tripswitch.WithFlushInterval(cfg.FlushInterval),
		tripswitch.WithGlobalTags(map[string]string{"service": "checkout"}),
		tripswitch.WithHooks(tripswitch.Hooks{StateChange: tl.observe, Rejected: rej.observe}),
	)
	if be.InsecureHTTP {
		opts = append(opts, tripswitch.WithInsecureHTTP())
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	client, err := tripswitch.NewClient(cctx, be.ProjectID, opts...)
	cancel()
	if err != nil {
		// The story needs the breakers' states from the start, so a client
		// that has not synced (ErrNotSynced) is closed rather than used.
		if client != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = client.Close(closeCtx)
			cancel()
		}
		if be.Admin == nil && errors.Is(err, tripswitch.ErrNotSynced) {
			return nil, fmt.Errorf("tripswitch client: %w (the project needs the breakers %q; set TRIPSWITCH_ADMIN_KEY to let the demo create them)", err, breakerNames)
		}
		return nil, fmt.Errorf("tripswitch client: %w", err)
	}
	st.client = client
	if routerID == "" {
		if routerID, err = waitForRouter(ctx, client); err != nil {
			return nil, err
		}
	}

	// The exporter forwards otelhttp's client-duration histogram, and the
	// span processor checkout's client spans, to the payments router.
	exp, err := exporter.New(client, []exporter.Rule{{
		Instrument: exporterMetric,
		Scope:      otelhttp.ScopeName,
		Router:     routerID,
		Metric:     exporterMetric,
		OK:         exporter.OKBelowHTTPStatus(500),
	}})
	if err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	tel, err := newTelemetry(ctx, cfg, exp)
	if err != nil {
		return nil, err
	}
	st.tel = tel
	if err := bridge.Observe(client, otelbridge.WithMeterProvider(tel.meters)); err != nil {
		return nil, fmt.Errorf("otelbridge: %w", err)
	}
	spans, err := otelbridge.NewSpanProcessor(client, otelbridge.Rule{
		Kind:   trace.SpanKindClient,
		Scope:  otelhttp.ScopeName,
		Router: routerID,
		Metric: spanMetric,
		OK:     otelbridge.OKBelowHTTPStatus(500),
	})
	if err != nil {
		return nil, fmt.Errorf("span processor: %w", err)
	}
	tel.checkout.RegisterSpanProcessor(spans)

	// The services.
	var startNs atomic.Int64
	phaseNow := func() phase { return sched.at(time.Duration(time.Now().UnixNano() - startNs.Load())) }
	paymentsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	st.listeners = append(st.listeners, paymentsLn)
	paymentsURL := st.serve(paymentsLn, "/pay", otelhttp.NewHandler(newPayments(cfg.Seed, phaseNow), "payments",
		otelhttp.WithTracerProvider(tel.payments),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithPropagators(tel.propagator),
	))
	paymentsTransport := newTransport()
	st.transports = append(st.transports, paymentsTransport)
	// Calls to payments are gated on the payments breakers and reported to
	// the payments router by the tripswitchhttp transport, outside otelhttp's
	// so that a rejected call never leaves the process and makes no client
	// span.
	gated, err := tripswitchhttp.NewTransport(otelhttp.NewTransport(paymentsTransport,
		otelhttp.WithTracerProvider(tel.checkout),
		otelhttp.WithMeterProvider(tel.meters),
		otelhttp.WithPropagators(tel.propagator),
	), client,
		tripswitchhttp.WithBreakers(breakerNames...),
		tripswitchhttp.WithRouter(routerID),
		tripswitchhttp.WithLatencyMetric(latencyMetric),
	)
	if err != nil {
		return nil, fmt.Errorf("payments transport: %w", err)
	}
	ck := &checkout{http: &http.Client{Transport: gated}, paymentsURL: paymentsURL}
	checkoutURL := st.serve(checkoutLn, "/checkout", otelhttp.NewHandler(ck, "checkout",
		otelhttp.WithTracerProvider(tel.checkout),
		otelhttp.WithMeterProvider(tel.meters),
		otelhttp.WithPropagators(tel.propagator),
	))
	var metricsURL string
	if metricsLn != nil {
		metricsURL = st.serve(metricsLn, "/metrics", tel.metrics)
	}

	writeHeader(stdout, paint, headerInfo{
		cfg: cfg, sched: sched, backend: be, routerID: routerID, specs: specs,
		provisioned: be.Admin != nil, checkoutURL: checkoutURL, metricsURL: metricsURL,
		notes: []string{checkoutLn.note, noteOf(metricsLn)},
	})
	if cfg.ready != nil {
		cfg.ready(readyInfo{MetricsURL: metricsURL, CheckoutURL: checkoutURL, Server: be.Local, ProjectID: be.ProjectID, RouterID: routerID})
	}

	// The load, and one progress line a second.
	loadTransport := newTransport()
	st.transports = append(st.transports, loadTransport)
	ld := &load{url: checkoutURL, http: &http.Client{Transport: loadTransport}, sched: sched}
	start := time.Now()
	startNs.Store(start.UnixNano())
	tl.begin(start, client.States())
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		ld.run(ctx, start, cfg.RPS)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last time.Duration // when the previous line was printed
	for running := true; running; {
		select {
		case <-tick.C:
		case <-loadDone:
			running = false
		}
		at := time.Since(start)
		// The answers still in flight when the schedule ends are counted
		// in the summary; they get a line of their own only after an
		// interruption, or when they cover a good part of a second.
		t := ld.takeInterval()
		if running || (t.Requests() > 0 && (ctx.Err() != nil || at-last >= time.Second/2)) {
			writeLine(stdout, progressLine(paint, at, sched.at(at-time.Millisecond), t, client.States()))
			last = at
		}
	}
	end := time.Since(start)

	sum := &summary{
		Schedule:    sched,
		Elapsed:     end,
		Interrupted: ctx.Err() != nil,
		Phases:      ld.byPhase(),
		Final:       client.States(),
		Rejected:    rej.snapshot(),
	}
	sum.Initial, sum.Changes = tl.snapshot()

	shutdownErr := st.closeClientSide(context.WithoutCancel(ctx))
	sum.Samples = client.Stats()
	if tel.otlp != nil {
		r := tel.otlp.report()
		sum.OTLP = &r
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if be.Admin != nil {
		sum.Events = serverEvents(sctx, be, start, breakerIDs)
	}
	if be.Local != nil {
		sum.AtServer = make(map[string]int)
		for _, s := range be.Local.Samples(be.ProjectID) {
			if s.RouterID == routerID {
				sum.AtServer[s.Metric]++
				if s.TraceID != "" {
					sum.Traced++
				}
			}
		}
	}
	sum.derive()
	writeSummary(stdout, paint, sum)
	if shutdownErr != nil {
		return sum, fmt.Errorf("shutdown: %w", shutdownErr)
	}
	return sum, nil
}

// rejections counts rejected calls by reason; it is the client's Rejected
// hook.
type rejections struct {
	open, throttled, unavailable atomic.Int64
}

func (r *rejections) observe(_ context.Context, err *tripswitch.BreakerError) {
	switch err.Reason {
	case tripswitch.ReasonOpen:
		r.open.Add(1)
	case tripswitch.ReasonThrottled:
		r.throttled.Add(1)
	default:
		r.unavailable.Add(1)
	}
}

func (r *rejections) snapshot() map[string]int {
	return map[string]int{
		tripswitch.ReasonOpen.String():        int(r.open.Load()),
		tripswitch.ReasonThrottled.String():   int(r.throttled.Load()),
		tripswitch.ReasonUnavailable.String(): int(r.unavailable.Load()),
	}
}

// waitForRouter looks the payments router up in the client's metadata,
// waiting for the first metadata sync.
func waitForRouter(ctx context.Context, c *tripswitch.Client) (string, error) {
	deadline := time.Now().Add(connectTimeout)
	for {
		id, err := lookupRouter(c)
		if !errors.Is(err, tripswitch.ErrMetadataUnavailable) || time.Now().After(deadline) {
			return id, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	return t
}

// stack holds what run started, to stop it in a safe order.
type stack struct {
	backend    *backend
	tel        *telemetry
	bridge     *otelbridge.Bridge
	client     *tripswitch.Client
	servers    []*http.Server
	serving    sync.WaitGroup
	transports []*http.Transport
	listeners  []net.Listener // closed at the end, served or not

	clientSideDone bool
}

// listen opens an endpoint's listener (see listen) and keeps it to close.
func (s *stack) listen(name, addr string, given bool) (*listener, error) {
	ln, err := listen(name, addr, given)
	if err != nil {
		return nil, err
	}
	s.listeners = append(s.listeners, ln)
	return ln, nil
}

func noteOf(ln *listener) string {
	if ln == nil {
		return ""
	}
	return ln.note
}

// serve serves h at path on ln; it returns the URL of path.
func (s *stack) serve(ln net.Listener, path string, h http.Handler) string {
	mux := http.NewServeMux()
	mux.Handle(path, h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String() + path
}

// closeClientSide stops the services, flushes spans and metrics (the last
// metric collection feeds the exporter, spans feed the span processor),
// and closes the client, which delivers every buffered sample. Each step
// has its own shutdownTimeout, so a slow step (an OTLP collector that does
// not answer) cannot leave the client no time to deliver its samples.
func (s *stack) closeClientSide(ctx context.Context) error {
	if s.clientSideDone {
		return nil
	}
	s.clientSideDone = true
	var errs []error
	step := func(stop func(context.Context) error) {
		sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
		defer cancel()
		errs = append(errs, stop(sctx))
	}
	for _, srv := range s.servers {
		step(srv.Shutdown)
	}
	s.serving.Wait()
	for _, ln := range s.listeners {
		_ = ln.Close() // the ones never served; the others are closed already
	}
	if s.tel != nil {
		step(s.tel.shutdown)
	}
	if s.bridge != nil {
		step(s.bridge.Shutdown)
	}
	if s.client != nil {
		step(s.client.Close)
	}
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// closeAll stops everything, the server last.
func (s *stack) closeAll(ctx context.Context) error {
	err := s.closeClientSide(ctx)
	if s.backend != nil {
		sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
		defer cancel()
		err = errors.Join(err, s.backend.close(sctx))
	}
	return err
}
