package tripswitchreceiver

import (
	"context"
	"errors"
	"strings"

	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"

	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// connectTimeout bounds one attempt to connect to the state stream;
// retryDelay separates attempts.
const (
	connectTimeout = 30 * time.Second
	retryDelay     = 5 * time.Second
)

// stateReceiver publishes a project's breaker states through
// otelbridge's instruments, read with a manual reader at every interval.
type stateReceiver struct {
	cfg    *Config
	next   consumer.Metrics
	logger *zap.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Metrics) *stateReceiver {
	return &stateReceiver{cfg: cfg, next: next, logger: set.Logger}
}

// Start connects in the background: the Collector starts whether or not
// Tripswitch can be reached.
func (r *stateReceiver) Start(_ context.Context, _ component.Host) error {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(ctx)
	return nil
}

// Shutdown stops the receiver and closes its client by ctx's deadline.
func (r *stateReceiver) Shutdown(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *stateReceiver) run(ctx context.Context) {
	defer close(r.done)
	bridge := otelbridge.New()
	client := r.connect(ctx, bridge)
	if client == nil {
		return
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bridge.Shutdown(closeCtx)
		_ = client.Close(closeCtx)
	}()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	if err := bridge.Observe(client, otelbridge.WithMeterProvider(mp)); err != nil {
		r.logger.Error("tripswitch receiver: cannot publish breaker states", zap.Error(err))
		return
	}
	tick := time.NewTicker(r.cfg.CollectionInterval)
	defer tick.Stop()
	for {
		r.emit(ctx, reader)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// connect starts the client, retrying until it syncs or ctx ends.
func (r *stateReceiver) connect(ctx context.Context, bridge *otelbridge.Bridge) *tripswitch.Client {
	opts := append(bridge.ClientOptions(),
		tripswitch.WithBaseURL(r.cfg.Endpoint),
		tripswitch.WithProjectKey(string(r.cfg.ProjectKey)),
		tripswitch.WithMetadataSyncInterval(0),
	)
	if r.cfg.InsecureHTTP {
		opts = append(opts, tripswitch.WithInsecureHTTP())
	}
	for {
		attempt, cancel := context.WithTimeout(ctx, connectTimeout)
		client, err := tripswitch.NewClient(attempt, r.cfg.ProjectID, opts...)
		cancel()
		if client != nil {
			if err != nil {
				r.logger.Warn("tripswitch receiver: state stream not synced yet; the client keeps trying", zap.Error(err))
			}
			return client
		}
		if ctx.Err() != nil {
			return nil
		}
		r.logger.Warn("tripswitch receiver: cannot connect to the state stream; retrying", zap.Error(err), zap.Duration("retry_in", retryDelay))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retryDelay):
		}
	}
}

// emit collects the breaker instruments and passes them on.
func (r *stateReceiver) emit(ctx context.Context, reader *sdkmetric.ManualReader) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		if !errors.Is(err, context.Canceled) {
			r.logger.Warn("tripswitch receiver: collect failed", zap.Error(err))
		}
		return
	}
	md := toPdata(&rm, r.cfg.ProjectID)
	if md.DataPointCount() == 0 {
		return
	}
	if err := r.next.ConsumeMetrics(ctx, md); err != nil && ctx.Err() == nil {
		r.logger.Warn("tripswitch receiver: next consumer refused the breaker states", zap.Error(err))
	}
}

// breakerMetric reports whether an otelbridge instrument describes
// breakers (state, allow rate, transitions, count) rather than the
// receiver's own client.
func breakerMetric(name string) bool {
	return strings.HasPrefix(name, "tripswitch.breaker.") && name != "tripswitch.breaker.rejections"
}

// toPdata converts the bridge's breaker instruments.
func toPdata(rm *metricdata.ResourceMetrics, projectID string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	res := md.ResourceMetrics().AppendEmpty()
	res.Resource().Attributes().PutStr("tripswitch.project.id", projectID)
	for _, sm := range rm.ScopeMetrics {
		out := res.ScopeMetrics().AppendEmpty()
		out.Scope().SetName(sm.Scope.Name)
		out.Scope().SetVersion(sm.Scope.Version)
		for _, m := range sm.Metrics {
			if !breakerMetric(m.Name) {
				continue
			}
			pm := pmetric.NewMetric()
			pm.SetName(m.Name)
			pm.SetDescription(m.Description)
			pm.SetUnit(m.Unit)
			if convertData(m.Data, pm) {
				pm.MoveTo(out.Metrics().AppendEmpty())
			}
		}
	}
	return md
}

func convertData(data metricdata.Aggregation, pm pmetric.Metric) bool {
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		copyPoints(setSum(pm, d.IsMonotonic, d.Temporality), d.DataPoints)
	case metricdata.Sum[float64]:
		copyPoints(setSum(pm, d.IsMonotonic, d.Temporality), d.DataPoints)
	case metricdata.Gauge[int64]:
		copyPoints(pm.SetEmptyGauge().DataPoints(), d.DataPoints)
	case metricdata.Gauge[float64]:
		copyPoints(pm.SetEmptyGauge().DataPoints(), d.DataPoints)
	default:
		return false
	}
	return true
}

// setSum makes pm a sum and returns its empty point slice.
func setSum(pm pmetric.Metric, monotonic bool, t metricdata.Temporality) pmetric.NumberDataPointSlice {
	s := pm.SetEmptySum()
	s.SetIsMonotonic(monotonic)
	s.SetAggregationTemporality(temporality(t))
	return s.DataPoints()
}

// copyPoints appends the points of a sum or gauge to dst.
func copyPoints[N int64 | float64](dst pmetric.NumberDataPointSlice, points []metricdata.DataPoint[N]) {
	for _, p := range points {
		dp := dst.AppendEmpty()
		setPoint(dp, p.Attributes, p.StartTime, p.Time)
		switch v := any(p.Value).(type) {
		case int64:
			dp.SetIntValue(v)
		case float64:
			dp.SetDoubleValue(v)
		}
	}
}

func temporality(t metricdata.Temporality) pmetric.AggregationTemporality {
	if t == metricdata.DeltaTemporality {
		return pmetric.AggregationTemporalityDelta
	}
	return pmetric.AggregationTemporalityCumulative
}

func setPoint(dp pmetric.NumberDataPoint, attrs attribute.Set, start, t time.Time) {
	if !start.IsZero() {
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	}
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t))
	m := dp.Attributes()
	for _, kv := range attrs.ToSlice() {
		switch kv.Value.Type() {
		case attribute.BOOL:
			m.PutBool(string(kv.Key), kv.Value.AsBool())
		case attribute.INT64:
			m.PutInt(string(kv.Key), kv.Value.AsInt64())
		case attribute.FLOAT64:
			m.PutDouble(string(kv.Key), kv.Value.AsFloat64())
		default:
			m.PutStr(string(kv.Key), kv.Value.Emit())
		}
	}
}
