package exporter

import (
	"log/slog"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tripswitch-otel/tripswitch-go/internal/sinks"
)

func init() {
	sinks.ExporterStaleAfter = func(d time.Duration) any {
		return optionFunc(func(c *config) { c.staleFor = d })
	}
	sinks.ExporterOption = func(f sinks.Factory) any {
		return optionFunc(func(c *config) {
			c.newSink = func(router, metric string, tags map[string]string) (sink, error) {
				return f(router, metric, tags)
			}
		})
	}
}

// DefaultMaxSamplesPerPoint is the default of WithMaxSamplesPerPoint.
const DefaultMaxSamplesPerPoint = 1000

// An Option configures an Exporter.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	staleFor    time.Duration // forget streams idle this long instead of staleAfter exports (internal)
	maxSamples  int
	logger      *slog.Logger
	aggregation sdkmetric.AggregationSelector

	// Test seams, set through export_test.go.
	now     func() time.Time
	newSink func(router, metric string, tags map[string]string) (sink, error)
}

// WithMaxSamplesPerPoint sets the most samples one histogram data point
// expands to under ReduceDistribution. Default DefaultMaxSamplesPerPoint;
// n must be positive. When a point of an export has more measurements than
// n, every point of the same instrument, rule and export is down-sampled
// by the same factor, so the largest gets n samples and the proportions
// between points (an error rate, for one) are kept.
func WithMaxSamplesPerPoint(n int) Option {
	return optionFunc(func(c *config) { c.maxSamples = n })
}

// WithLogger sets the logger for conditions that do not fail an export
// (a cache limit reached, a value that is not a finite number). Default:
// discard.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithAggregationSelector sets the aggregation the exporter asks the SDK
// for, per instrument kind (for example exponential histograms for every
// histogram read by this exporter's reader). Default
// sdkmetric.DefaultAggregationSelector. The selector must be safe for
// concurrent use; Views still override it.
func WithAggregationSelector(s sdkmetric.AggregationSelector) Option {
	return optionFunc(func(c *config) { c.aggregation = s })
}
