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

// Config is a breaker's evaluation settings: the one definition of the
// breaker fields of the management API that drive evaluation. The json tags
// are the API's field names, and the server embeds Config in the breakers it
// stores, reports and persists. Zero means "unset" for every numeric field
// and is replaced by [Config.Normalize].
type Config struct {
	Metric string `json:"metric"`
	// Kind is one of error_rate, avg, p95, max, min, sum, stddev, count,
	// percentile, consecutive_failures, delta.
	Kind string `json:"kind"`
	// KindParams holds the kind's parameters: "percentile" (e.g. 99) for
	// kind percentile. Other kinds ignore it.
	KindParams map[string]float64 `json:"kind_params"`
	Op         string             `json:"op"` // gt, lt, gte, lte
	Threshold  float64            `json:"threshold"`

	WindowMs           int64 `json:"window_ms"`
	MinCount           int64 `json:"min_count"`
	MinStateDurationMs int64 `json:"min_state_duration_ms"`
	CooldownMs         int64 `json:"cooldown_ms"`
	EvalIntervalMs     int64 `json:"eval_interval_ms"`

	HalfOpenConfirmationMs      int64  `json:"half_open_confirmation_ms"`
	HalfOpenBackoffEnabled      bool   `json:"half_open_backoff_enabled"`
	HalfOpenBackoffCapMs        int64  `json:"half_open_backoff_cap_ms"`
	HalfOpenIndeterminatePolicy string `json:"half_open_indeterminate_policy"` // optimistic, conservative, pessimistic
	RecoveryWindowMs            int64  `json:"recovery_window_ms"`
	RecoveryAllowRateRampSteps  int    `json:"recovery_allow_rate_ramp_steps"`

	// percentile caches KindParams["percentile"] for evaluation; set by
	// Normalize.
	percentile float64
}

// Percentile returns the percentile of kind percentile
// (kind_params.percentile), 0 when unset.
func (c Config) Percentile() float64 { return c.KindParams["percentile"] }

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
	c.percentile = c.Percentile()
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
	if p := c.Percentile(); c.Kind == KindPercentile && !(p > 0 && p <= 100) {
		return fieldErr("kind_params.percentile", "must be in (0, 100] for kind percentile, got %v", p)
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
