package tripswitchexporter

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tripswitch-otel/tripswitch-go/exporter"
)

func loadConfig(t *testing.T, id component.ID) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(id.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadConfig(t *testing.T) {
	cfg := loadConfig(t, component.NewID(Type))
	if err := confmap.Validate(cfg); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if cfg.Endpoint != "http://127.0.0.1:8787" || cfg.ProjectID != "proj_abc123" || cfg.TimeoutConfig.Timeout != 3*time.Second ||
		cfg.QueueConfig.Get().QueueSize != 500 || cfg.RetryConfig.MaxElapsedTime != time.Minute || !cfg.RetryConfig.Enabled {
		t.Errorf("config %+v", cfg)
	}
	rules, err := cfg.rules()
	if err != nil {
		t.Fatal(err)
	}
	if r := rules[0]; r.Kind != trace.SpanKindServer || r.NamePrefix != "GET /pay" || r.Router != "rtr_payments" ||
		len(r.Attributes) != 1 || r.Attributes[0].Value.AsString() != "GET" || r.OK == nil || len(r.TagKeys) != 1 {
		t.Errorf("span rule %+v", r)
	}
	metricRules, err := cfg.metricRules()
	if err != nil {
		t.Fatal(err)
	}
	if r := metricRules[0]; r.Reduce != exporter.ReducePercentile || r.Percentile != 95 || r.OK == nil || r.Metric != "latency" {
		t.Errorf("metric rule %+v", r)
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if cfg.Endpoint != DefaultEndpoint || !cfg.QueueConfig.HasValue() || !cfg.RetryConfig.Enabled {
		t.Errorf("default config %+v", cfg)
	}
	err := confmap.Validate(cfg)
	for _, field := range []string{"project_id", "ingest_secret", "spans, metrics"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("empty config: error %v does not name %s", err, field)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	err := confmap.Validate(loadConfig(t, component.NewIDWithName(Type, "bad")))
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"endpoint", "project_id", "ingest_secret", "spans[0].kind", `"sideways"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "not-hex") {
		t.Errorf("error %q shows the secret", err)
	}

	valid := func() *Config {
		c := loadConfig(t, component.NewID(Type))
		return c
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"span rule without router", func(c *Config) { c.Spans[0].Router = "" }, "spans[0].router: required"},
		{"span rule without metric", func(c *Config) { c.Spans[0].Metric = "" }, "spans[0].metric: required"},
		{"name and prefix", func(c *Config) { c.Spans[0].Name = "x" }, "spans[0].name_prefix"},
		{"too many span tag keys", func(c *Config) { c.Spans[0].TagKeys = []string{"a", "b", "c", "d", "e"} }, "spans[0].tag_keys"},
		{"metric rule without metric", func(c *Config) { c.Metrics[0].Metric = "" }, "metrics[0].metric: required"},
		{"too many metric tag keys", func(c *Config) { c.Metrics[0].TagKeys = []string{"a", "b", "c", "d", "e"} }, "metrics[0].tag_keys"},
		{"bad attribute", func(c *Config) { c.Spans[0].Attributes = map[string]any{"k": []any{1}} }, "spans[0].attributes"},
		{"negative status", func(c *Config) { c.Spans[0].OK.BelowHTTPStatus = -1 }, "spans[0].ok.below_http_status"},
		{"metric rule without instrument", func(c *Config) { c.Metrics[0].Instrument = "" }, "metrics[0].instrument"},
		{"unknown reduce", func(c *Config) { c.Metrics[0].Reduce = "median" }, "metrics[0].reduce"},
		{"percentile out of range", func(c *Config) { c.Metrics[0].Percentile = 101 }, "metrics[0].percentile"},
		{"unknown unit", func(c *Config) { c.Metrics[0].Unit = "sec" }, "metrics[0].unit"},
		{"short secret", func(c *Config) { c.IngestSecret = "ik_0123" }, "ingest_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(c)
			err := confmap.Validate(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}
