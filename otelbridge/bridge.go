package otelbridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// ScopeName is the instrumentation scope name of the Bridge's meter: the
// import path of this package.
const ScopeName = "github.com/tripswitch-otel/tripswitch-go/otelbridge"

// Version is the instrumentation scope version of the Bridge's meter.
const Version = tripswitch.Version

var (
	// ErrShutdown is returned by Observe after Shutdown.
	ErrShutdown = errors.New("otelbridge: bridge is shut down")

	// ErrAlreadyObserving is returned by Observe when the Bridge already
	// observes a client.
	ErrAlreadyObserving = errors.New("otelbridge: bridge already observes a client")
)

// maxPending bounds the hook events held between NewClient and Observe.
const maxPending = 1024

// A Bridge publishes one tripswitch.Client's breaker states, rejections and
// health as OpenTelemetry metrics, and records rejections as span events.
//
// A Bridge serves exactly one client: pass ClientOptions to that client's
// NewClient, then call Observe with it. Hook events that happen between
// NewClient and Observe (up to 1024) are recorded at Observe. A Bridge is
// safe for concurrent use.
type Bridge struct {
	cfg  []Option    // New's options; Observe's are applied after them
	inst instruments // created by Observe

	mu      sync.Mutex
	bound   atomic.Pointer[binding] // nil until Observe
	pending []pendingEvent
	reg     metric.Registration
	stopped atomic.Bool

	shutdownOnce sync.Once
	shutdownErr  error

	now func() time.Time
}

// New returns a Bridge. Its instruments are created by Observe, with the
// MeterProvider given to Observe or else to New (default: the global one),
// so that a MeterProvider whose readers need the client (such as one
// exporting through package exporter) can be built after the client.
func New(opts ...Option) *Bridge {
	return &Bridge{cfg: opts, now: time.Now}
}

// ClientOptions returns the options that connect a client to the Bridge:
// the trace-ID extractor TraceID and hooks that count state transitions and
// rejections and add a span event to the span of every rejected call. Pass
// them to tripswitch.NewClient of the one client the Bridge observes.
func (b *Bridge) ClientOptions() []tripswitch.Option {
	return []tripswitch.Option{
		tripswitch.WithTraceIDExtractor(TraceID),
		tripswitch.WithHooks(tripswitch.Hooks{
			StateChange: b.onStateChange,
			Rejected:    b.onRejected,
		}),
	}
}

// Observe creates the Bridge's instruments (with the MeterProvider of opts,
// else of New's options, else the global one) and starts publishing
// client's breaker states and health through them, read from client.States
// and client.Stats at every collection. It returns an error when the
// provider refuses an instrument. A breaker the client no longer knows (deleted on the
// server, once the client's metadata sync has noticed) is absent from the
// next collection. Observe returns
// ErrAlreadyObserving when called a second time and ErrShutdown after
// Shutdown.
func (b *Bridge) Observe(client *tripswitch.Client, opts ...Option) error {
	if client == nil {
		return fmt.Errorf("%w: Observe: nil client", ErrInvalidOption)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped.Load() {
		return ErrShutdown
	}
	if b.bound.Load() != nil {
		return ErrAlreadyObserving
	}
	cfg := newConfig(append(append([]Option(nil), b.cfg...), opts...))
	meter := cfg.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	if err := b.inst.init(meter); err != nil {
		return err
	}
	bnd := newBinding(client)
	reg, err := b.inst.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return b.collect(bnd, o)
	}, b.inst.observables()...)
	if err != nil {
		return err
	}
	b.reg = reg
	b.bound.Store(bnd)
	for _, ev := range b.pending {
		b.record(context.Background(), bnd, ev)
	}
	b.pending = nil
	return nil
}

// Shutdown unregisters the Bridge's callbacks, so later collections carry
// none of its observable instruments, and turns its hooks into no-ops. The
// synchronous counters (transitions, rejections) keep the totals they
// reached, as every OpenTelemetry counter does. Shutdown does not close the
// client. It is idempotent: later calls return the first call's result.
func (b *Bridge) Shutdown(ctx context.Context) error {
	b.shutdownOnce.Do(func() {
		b.mu.Lock()
		b.stopped.Store(true)
		reg := b.reg
		b.reg = nil
		b.pending = nil
		b.mu.Unlock()
		if reg != nil {
			b.shutdownErr = reg.Unregister()
		}
	})
	return b.shutdownErr
}

// binding is what the Bridge knows once it observes a client.
type binding struct {
	client  *tripswitch.Client
	project attribute.KeyValue
	projSet metric.MeasurementOption

	// rejections caches the attributes of each rejection error; the
	// client shares one *BreakerError per breaker and reason.
	rejections sync.Map // *tripswitch.BreakerError → *rejectionAttrs

	mu       sync.Mutex
	breakers map[string]*breakerAttrs // guarded by mu; pruned every collection
}

func newBinding(c *tripswitch.Client) *binding {
	project := projectKey.String(c.ProjectID())
	return &binding{
		client:   c,
		project:  project,
		projSet:  metric.WithAttributeSet(attribute.NewSet(project)),
		breakers: make(map[string]*breakerAttrs),
	}
}

type rejectionAttrs struct {
	add   metric.AddOption
	event trace.EventOption
}

func (bnd *binding) rejection(err *tripswitch.BreakerError) *rejectionAttrs {
	if v, ok := bnd.rejections.Load(err); ok {
		return v.(*rejectionAttrs)
	}
	ra := &rejectionAttrs{
		add: metric.WithAttributeSet(attribute.NewSet(
			bnd.project,
			breakerNameKey.String(err.Breaker),
			reasonKey.String(err.Reason.String()),
		)),
		event: rejectionEventOption(err),
	}
	v, _ := bnd.rejections.LoadOrStore(err, ra)
	return v.(*rejectionAttrs)
}

func rejectionEventOption(err *tripswitch.BreakerError) trace.EventOption {
	return trace.WithAttributes(
		breakerNameKey.String(err.Breaker),
		breakerStateKey.String(err.State.String()),
		reasonKey.String(err.Reason.String()),
	)
}
