package tripswitchexporter

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
)

// DefaultEndpoint is the default of Config.Endpoint.
const DefaultEndpoint = "https://api.tripswitch.dev"

// Config is the exporter's configuration.
type Config struct {
	// Endpoint is the Tripswitch base URL. Default DefaultEndpoint.
	Endpoint string `mapstructure:"endpoint"`
	// ProjectID is the project the samples go to. Required.
	ProjectID string `mapstructure:"project_id"`
	// IngestSecret signs the batches: 64 hex characters, an optional
	// "ik_" prefix. Required; give it as ${env:TRIPSWITCH_INGEST_SECRET}.
	IngestSecret configopaque.String `mapstructure:"ingest_secret"`

	// Spans turns the spans of a traces pipeline into samples, one per
	// matching rule.
	Spans []SpanRule `mapstructure:"spans"`
	// Metrics turns the data points of a metrics pipeline into samples,
	// one series per matching rule.
	Metrics []MetricRule `mapstructure:"metrics"`

	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
}

// SpanRule is otelbridge.Rule in configuration form.
type SpanRule struct {
	Name       string         `mapstructure:"name"`
	NamePrefix string         `mapstructure:"name_prefix"`
	Kind       string         `mapstructure:"kind"` // client, server, internal, producer, consumer
	Scope      string         `mapstructure:"scope"`
	Attributes map[string]any `mapstructure:"attributes"`
	Router     string         `mapstructure:"router"`
	Metric     string         `mapstructure:"metric"` // required
	OK         OKConfig       `mapstructure:"ok"`
	TagKeys    []string       `mapstructure:"tag_keys"`
}

// OKConfig chooses how a span or data point is classified. With nothing
// set, a span is ok unless its status is Error, and a data point is ok.
type OKConfig struct {
	// BelowHTTPStatus fails spans or points whose HTTP response status
	// code is this or above (500: server errors only). A point without a
	// status code fails when it has an error.type attribute.
	BelowHTTPStatus int `mapstructure:"below_http_status"`
}

// MetricRule is exporter.Rule in configuration form.
type MetricRule struct {
	Instrument       string         `mapstructure:"instrument"`
	InstrumentPrefix string         `mapstructure:"instrument_prefix"`
	Scope            string         `mapstructure:"scope"`
	Attributes       map[string]any `mapstructure:"attributes"`
	Router           string         `mapstructure:"router"`
	Metric           string         `mapstructure:"metric"` // required
	Unit             string         `mapstructure:"unit"`
	Reduce           string         `mapstructure:"reduce"` // distribution (default), mean, min, max, sum, count, percentile
	Percentile       float64        `mapstructure:"percentile"`
	Total            bool           `mapstructure:"total"`
	OK               OKConfig       `mapstructure:"ok"`
	TagKeys          []string       `mapstructure:"tag_keys"`
}

// Validate checks the configuration; each error names the field at fault.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q is not an http:// or https:// URL", c.Endpoint))
	}
	if strings.TrimSpace(c.ProjectID) == "" {
		errs = append(errs, errors.New("project_id: required"))
	}
	if c.IngestSecret == "" {
		errs = append(errs, errors.New("ingest_secret: required (for example ${env:TRIPSWITCH_INGEST_SECRET})"))
	} else if _, err := wire.ParseSecret(strings.TrimSpace(string(c.IngestSecret))); err != nil {
		errs = append(errs, fmt.Errorf("ingest_secret: %w", err))
	}
	if len(c.Spans) == 0 && len(c.Metrics) == 0 {
		errs = append(errs, errors.New("spans, metrics: give at least one span rule or metric rule"))
	}
	if _, err := c.rules(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.metricRules(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var spanKinds = map[string]trace.SpanKind{
	"":         trace.SpanKindUnspecified,
	"internal": trace.SpanKindInternal,
	"server":   trace.SpanKindServer,
	"client":   trace.SpanKindClient,
	"producer": trace.SpanKindProducer,
	"consumer": trace.SpanKindConsumer,
}

// rules converts the span rules, checking them as otelbridge does.
func (c *Config) rules() ([]otelbridge.Rule, error) {
	out := make([]otelbridge.Rule, 0, len(c.Spans))
	for i, s := range c.Spans {
		kind, ok := spanKinds[strings.ToLower(s.Kind)]
		if !ok {
			return nil, fmt.Errorf("spans[%d].kind: unknown span kind %q (want client, server, internal, producer or consumer)", i, s.Kind)
		}
		attrs, err := attributesOf(s.Attributes)
		if err != nil {
			return nil, fmt.Errorf("spans[%d].attributes: %w", i, err)
		}
		if s.OK.BelowHTTPStatus < 0 {
			return nil, fmt.Errorf("spans[%d].ok.below_http_status: must be positive, got %d", i, s.OK.BelowHTTPStatus)
		}
		r := otelbridge.Rule{
			Name: s.Name, NamePrefix: s.NamePrefix, Kind: kind, Scope: s.Scope, Attributes: attrs,
			Router: s.Router, Metric: s.Metric, TagKeys: keys(s.TagKeys),
		}
		if s.OK.BelowHTTPStatus > 0 {
			r.OK = otelbridge.OKBelowHTTPStatus(s.OK.BelowHTTPStatus)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, nil
	}
	// otelbridge checks the rest and names the rule and field.
	if _, err := newSpanEngine(nopFactory, out); err != nil {
		var re *otelbridge.RuleError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("spans[%d].%s: %s", re.Index, configField(re.Field), re.Reason)
		}
		return nil, fmt.Errorf("spans: %w", err)
	}
	return out, nil
}

var reduces = map[string]exporter.Reduce{
	"": exporter.ReduceDistribution, "distribution": exporter.ReduceDistribution,
	"mean": exporter.ReduceMean, "min": exporter.ReduceMin, "max": exporter.ReduceMax,
	"sum": exporter.ReduceSum, "count": exporter.ReduceCount, "percentile": exporter.ReducePercentile,
}

// metricRules converts the metric rules, checking them as exporter does.
func (c *Config) metricRules() ([]exporter.Rule, error) {
	out := make([]exporter.Rule, 0, len(c.Metrics))
	for i, m := range c.Metrics {
		red, ok := reduces[strings.ToLower(m.Reduce)]
		if !ok {
			return nil, fmt.Errorf("metrics[%d].reduce: unknown reduction %q (want distribution, mean, min, max, sum, count or percentile)", i, m.Reduce)
		}
		attrs, err := attributesOf(m.Attributes)
		if err != nil {
			return nil, fmt.Errorf("metrics[%d].attributes: %w", i, err)
		}
		r := exporter.Rule{
			Instrument: m.Instrument, InstrumentPrefix: m.InstrumentPrefix, Scope: m.Scope, Attributes: attrs,
			Router: m.Router, Metric: m.Metric, Unit: m.Unit, Reduce: red, Percentile: m.Percentile, Total: m.Total,
			TagKeys: keys(m.TagKeys),
		}
		switch {
		case m.OK.BelowHTTPStatus < 0:
			return nil, fmt.Errorf("metrics[%d].ok.below_http_status: must be positive, got %d", i, m.OK.BelowHTTPStatus)
		case m.OK.BelowHTTPStatus > 0:
			r.OK = exporter.OKBelowHTTPStatus(m.OK.BelowHTTPStatus)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if _, err := exporter.New(nil, out); err != nil {
		var re *exporter.RuleError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("metrics[%d].%s: %s", re.Index, configField(re.Field), re.Reason)
		}
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return out, nil
}

// configField turns a Rule field name (exporter's or otelbridge's) into
// its config key.
func configField(f string) string {
	switch f {
	case "InstrumentPrefix":
		return "instrument_prefix"
	case "NamePrefix":
		return "name_prefix"
	case "TagKeys":
		return "tag_keys"
	}
	return strings.ToLower(f)
}

func keys(ks []string) []attribute.Key {
	if len(ks) == 0 {
		return nil
	}
	out := make([]attribute.Key, len(ks))
	for i, k := range ks {
		out[i] = attribute.Key(k)
	}
	return out
}

// attributesOf converts a YAML map of attribute values.
func attributesOf(m map[string]any) ([]attribute.KeyValue, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make([]attribute.KeyValue, 0, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out = append(out, attribute.String(k, v))
		case bool:
			out = append(out, attribute.Bool(k, v))
		case int:
			out = append(out, attribute.Int(k, v))
		case int64:
			out = append(out, attribute.Int64(k, v))
		case uint64:
			out = append(out, attribute.Int64(k, int64(v)))
		case float64:
			out = append(out, attribute.Float64(k, v))
		default:
			return nil, fmt.Errorf("%q: a value of type %T is not supported (want a string, number or boolean)", k, v)
		}
	}
	return out, nil
}
