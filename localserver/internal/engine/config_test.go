package engine

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{Metric: "latency", Kind: KindP95, Op: OpGt, Threshold: 500}
}

func TestNormalizeDefaults(t *testing.T) {
	got := validConfig().Normalize()
	want := validConfig()
	want.WindowMs = 60_000
	want.MinCount = 1
	want.CooldownMs = 30_000
	want.EvalIntervalMs = 1_000
	want.HalfOpenConfirmationMs = 5_000
	want.HalfOpenIndeterminatePolicy = PolicyConservative
	want.RecoveryAllowRateRampSteps = 1
	want.RecoveryWindowMs = 60_000
	want.HalfOpenBackoffCapMs = 300_000
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Normalize() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestNormalizeKeepsSetFields(t *testing.T) {
	c := validConfig()
	c.WindowMs, c.MinCount, c.CooldownMs, c.EvalIntervalMs = 10_000, 7, 2_000, 250
	c.HalfOpenConfirmationMs, c.HalfOpenBackoffCapMs = 3_000, 9_000
	c.HalfOpenIndeterminatePolicy = PolicyPessimistic
	c.RecoveryWindowMs, c.RecoveryAllowRateRampSteps = 4_000, 4
	c.MinStateDurationMs = 1_500
	if got := c.Normalize(); !reflect.DeepEqual(got, c) {
		t.Fatalf("Normalize() changed set fields:\n%+v\nwant\n%+v", got, c)
	}
	c.RecoveryWindowMs, c.HalfOpenBackoffCapMs = 0, 0
	got := c.Normalize()
	if got.RecoveryWindowMs != 10_000 || got.HalfOpenBackoffCapMs != 20_000 {
		t.Fatalf("derived defaults: recovery_window_ms %d (want 10000), backoff cap %d (want 20000)",
			got.RecoveryWindowMs, got.HalfOpenBackoffCapMs)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" means valid
	}{
		{"valid minimal", func(c *Config) {}, ""},
		{"valid full", func(c *Config) {
			c.Kind, c.KindParams, c.Op = KindPercentile, pct(99.9), OpLte
			c.WindowMs, c.MinCount, c.MinStateDurationMs, c.CooldownMs, c.EvalIntervalMs = 1, 2, 3, 4, 5
			c.HalfOpenConfirmationMs, c.HalfOpenBackoffEnabled, c.HalfOpenBackoffCapMs = 6, true, 7
			c.HalfOpenIndeterminatePolicy, c.RecoveryWindowMs, c.RecoveryAllowRateRampSteps = PolicyOptimistic, 8, 9
		}, ""},
		{"every kind is accepted", nil, ""},
		{"missing metric", func(c *Config) { c.Metric = " " }, "metric"},
		{"missing kind", func(c *Config) { c.Kind = "" }, "kind"},
		{"unknown kind", func(c *Config) { c.Kind = "p99" }, "kind"},
		{"percentile zero", func(c *Config) { c.Kind = KindPercentile }, "kind_params.percentile"},
		{"percentile above 100", func(c *Config) { c.Kind, c.KindParams = KindPercentile, pct(100.5) }, "kind_params.percentile"},
		{"percentile negative", func(c *Config) { c.Kind, c.KindParams = KindPercentile, pct(-1) }, "kind_params.percentile"},
		{"percentile NaN", func(c *Config) { c.Kind, c.KindParams = KindPercentile, pct(math.NaN()) }, "kind_params.percentile"},
		{"percentile 100 ok", func(c *Config) { c.Kind, c.KindParams = KindPercentile, pct(100) }, ""},
		{"percentile ignored for other kinds", func(c *Config) { c.KindParams = pct(500) }, ""},
		{"missing op", func(c *Config) { c.Op = "" }, "op"},
		{"unknown op", func(c *Config) { c.Op = ">" }, "op"},
		{"threshold NaN", func(c *Config) { c.Threshold = math.NaN() }, "threshold"},
		{"threshold Inf", func(c *Config) { c.Threshold = math.Inf(1) }, "threshold"},
		{"error_rate threshold as percent", func(c *Config) { c.Kind, c.Threshold = KindErrorRate, 5 }, "threshold"},
		{"error_rate threshold fraction", func(c *Config) { c.Kind, c.Threshold = KindErrorRate, 0.05 }, ""},
		{"negative window", func(c *Config) { c.WindowMs = -1 }, "window_ms"},
		{"window over a year", func(c *Config) { c.WindowMs = maxDurationMs + 1 }, "window_ms"},
		{"negative min_state_duration", func(c *Config) { c.MinStateDurationMs = -1 }, "min_state_duration_ms"},
		{"negative cooldown", func(c *Config) { c.CooldownMs = -5 }, "cooldown_ms"},
		{"negative eval interval", func(c *Config) { c.EvalIntervalMs = -1 }, "eval_interval_ms"},
		{"negative confirmation", func(c *Config) { c.HalfOpenConfirmationMs = -1 }, "half_open_confirmation_ms"},
		{"negative backoff cap", func(c *Config) { c.HalfOpenBackoffCapMs = -1 }, "half_open_backoff_cap_ms"},
		{"negative recovery window", func(c *Config) { c.RecoveryWindowMs = -1 }, "recovery_window_ms"},
		{"negative min_count", func(c *Config) { c.MinCount = -1 }, "min_count"},
		{"min_count above sample cap", func(c *Config) { c.MinCount = MaxSamples + 1 }, "min_count"},
		{"unknown policy", func(c *Config) { c.HalfOpenIndeterminatePolicy = "hopeful" }, "half_open_indeterminate_policy"},
		{"negative ramp steps", func(c *Config) { c.RecoveryAllowRateRampSteps = -1 }, "recovery_allow_rate_ramp_steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.edit == nil {
				for _, k := range kinds {
					c := validConfig()
					c.Kind, c.KindParams, c.Threshold = k, pct(50), 0.5
					if err := c.Validate(); err != nil {
						t.Errorf("kind %s: %v", k, err)
					}
				}
				return
			}
			c := validConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if err := c.Normalize().Validate(); err != nil {
					t.Fatalf("Normalize().Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Fatalf("Field = %q, want %q (error %q)", fe.Field, tt.field, err)
			}
			if !strings.HasPrefix(err.Error(), tt.field+": ") || fe.Message == "" {
				t.Fatalf("Error() = %q, want it to start with %q and explain", err, tt.field+": ")
			}
		})
	}
}

// pct returns the kind_params of kind percentile p.
func pct(p float64) map[string]float64 { return map[string]float64{"percentile": p} }
