package engine

import (
	"fmt"
	"math"
	"strings"
)

// Defaults applied by [Config.Normalize] to unset (zero) fields.
const (
	DefaultWindowMs               = 60_000
	DefaultMinCount               = 1
	DefaultCooldownMs             = 30_000
	DefaultEvalIntervalMs         = 1_000
	DefaultHalfOpenConfirmationMs = 5_000
	DefaultIndeterminatePolicy    = PolicyConservative
	DefaultRampSteps              = 1
	// DefaultBackoffCapFactor: an unset half_open_backoff_cap_ms becomes
	// this many times cooldown_ms.
	DefaultBackoffCapFactor = 10
)

// Aggregation kinds accepted in [Config.Kind].
const (
	KindErrorRate           = "error_rate"
	KindAvg                 = "avg"
	KindP95                 = "p95"
	KindPercentile          = "percentile"
	KindMax                 = "max"
	KindMin                 = "min"
	KindSum                 = "sum"
	KindStddev              = "stddev"
	KindCount               = "count"
	KindConsecutiveFailures = "consecutive_failures"
	KindDelta               = "delta"
)

// Comparison operators accepted in [Config.Op].
const (
	OpGt  = "gt"
	OpLt  = "lt"
	OpGte = "gte"
	OpLte = "lte"
)

// Half-open indeterminate policies accepted in
// [Config.HalfOpenIndeterminatePolicy].
const (
	PolicyOptimistic   = "optimistic"
	PolicyConservative = "conservative"
	PolicyPessimistic  = "pessimistic"
)

// maxDurationMs bounds every duration field (one year), which keeps all
// time arithmetic far from int64 overflow.
const maxDurationMs = 365 * 24 * 60 * 60 * 1000

var kinds = []string{
	KindErrorRate, KindAvg, KindP95, KindPercentile, KindMax, KindMin,
	KindSum, KindStddev, KindCount, KindConsecutiveFailures, KindDelta,
}

var ops = []string{OpGt, OpLt, OpGte, OpLte}

var policies = []string{PolicyOptimistic, PolicyConservative, PolicyPessimistic}

// Config is a breaker's evaluation settings. Field meanings follow the
// breaker fields of the management API; zero means "unset" for every
// numeric field and is replaced by [Config.Normalize].
type Config struct {
	Metric     string
	Kind       string  // error_rate, avg, p95, max, min, sum, stddev, count, percentile, consecutive_failures, delta
	Percentile float64 // kind_params.percentile for kind "percentile" (e.g. 99); ignored for other kinds
	Op         string  // gt, lt, gte, lte
	Threshold  float64

	WindowMs, MinCount, MinStateDurationMs, CooldownMs, EvalIntervalMs int64

	HalfOpenConfirmationMs      int64
	HalfOpenBackoffEnabled      bool
	HalfOpenBackoffCapMs        int64
	HalfOpenIndeterminatePolicy string // optimistic, conservative, pessimistic
	RecoveryWindowMs            int64
	RecoveryAllowRateRampSteps  int
}

// Normalize returns a copy of c with every unset field replaced by its
// default: window_ms 60 s, min_count 1, cooldown_ms 30 s, eval_interval_ms
// 1 s, half_open_confirmation_ms 5 s, half_open_indeterminate_policy
// conservative, recovery_allow_rate_ramp_steps 1, recovery_window_ms equal to
// window_ms, half_open_backoff_cap_ms 10 × cooldown_ms.
// min_state_duration_ms stays 0 (no minimum). Set fields are kept as they
// are, valid or not.
func (c Config) Normalize() Config {
	if c.WindowMs == 0 {
		c.WindowMs = DefaultWindowMs
	}
	if c.MinCount == 0 {
		c.MinCount = DefaultMinCount
	}
	if c.CooldownMs == 0 {
		c.CooldownMs = DefaultCooldownMs
	}
	if c.EvalIntervalMs == 0 {
		c.EvalIntervalMs = DefaultEvalIntervalMs
	}
	if c.HalfOpenConfirmationMs == 0 {
		c.HalfOpenConfirmationMs = DefaultHalfOpenConfirmationMs
	}
	if c.HalfOpenIndeterminatePolicy == "" {
		c.HalfOpenIndeterminatePolicy = DefaultIndeterminatePolicy
	}
	if c.RecoveryAllowRateRampSteps == 0 {
		c.RecoveryAllowRateRampSteps = DefaultRampSteps
	}
	if c.RecoveryWindowMs == 0 {
		c.RecoveryWindowMs = c.WindowMs
	}
	if c.HalfOpenBackoffCapMs == 0 {
		c.HalfOpenBackoffCapMs = DefaultBackoffCapFactor * c.CooldownMs
	}
	return c
}

// FieldError reports an invalid breaker setting. Field is the json name of
// the setting (for example "kind", "op", "kind_params.percentile",
// "window_ms").
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid setting of c as a *FieldError. Unset
// (zero) fields are valid; metric, kind and op are required.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Metric) == "" {
		return fieldErr("metric", "required")
	}
	if c.Kind == "" {
		return fieldErr("kind", "required; one of %s", strings.Join(kinds, ", "))
	}
	if !contains(kinds, c.Kind) {
		return fieldErr("kind", "unknown kind %q; want one of %s", c.Kind, strings.Join(kinds, ", "))
	}
	if c.Kind == KindPercentile && !(c.Percentile > 0 && c.Percentile <= 100) {
		return fieldErr("kind_params.percentile", "must be in (0, 100] for kind percentile, got %v", c.Percentile)
	}
	if c.Op == "" {
		return fieldErr("op", "required; one of %s", strings.Join(ops, ", "))
	}
	if !contains(ops, c.Op) {
		return fieldErr("op", "unknown op %q; want one of %s", c.Op, strings.Join(ops, ", "))
	}
	if math.IsNaN(c.Threshold) || math.IsInf(c.Threshold, 0) {
		return fieldErr("threshold", "must be a finite number, got %v", c.Threshold)
	}
	if c.Kind == KindErrorRate && (c.Threshold < 0 || c.Threshold > 1) {
		return fieldErr("threshold", "error_rate is a fraction in [0, 1] (0.05 means 5%%), got %v", c.Threshold)
	}
	durations := []struct {
		name string
		v    int64
	}{
		{"window_ms", c.WindowMs},
		{"min_state_duration_ms", c.MinStateDurationMs},
		{"cooldown_ms", c.CooldownMs},
		{"eval_interval_ms", c.EvalIntervalMs},
		{"half_open_confirmation_ms", c.HalfOpenConfirmationMs},
		{"half_open_backoff_cap_ms", c.HalfOpenBackoffCapMs},
		{"recovery_window_ms", c.RecoveryWindowMs},
	}
	for _, d := range durations {
		if d.v < 0 {
			return fieldErr(d.name, "must not be negative, got %d", d.v)
		}
		if d.v > maxDurationMs {
			return fieldErr(d.name, "must be at most %d (one year), got %d", int64(maxDurationMs), d.v)
		}
	}
	if c.MinCount < 0 {
		return fieldErr("min_count", "must not be negative, got %d", c.MinCount)
	}
	if c.MinCount > MaxSamples {
		return fieldErr("min_count", "must be at most %d (the per-breaker sample cap), got %d", MaxSamples, c.MinCount)
	}
	if c.HalfOpenIndeterminatePolicy != "" && !contains(policies, c.HalfOpenIndeterminatePolicy) {
		return fieldErr("half_open_indeterminate_policy", "unknown policy %q; want one of %s",
			c.HalfOpenIndeterminatePolicy, strings.Join(policies, ", "))
	}
	if c.RecoveryAllowRateRampSteps < 0 {
		return fieldErr("recovery_allow_rate_ramp_steps", "must not be negative, got %d", c.RecoveryAllowRateRampSteps)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
