// Package engine evaluates Tripswitch breakers for the local server: it
// stores a breaker's samples, computes its aggregate and moves it between
// closed, open and half_open. It is pure computation: no I/O, no goroutines,
// no locks, and every time is passed in by the caller as Unix milliseconds.
// A [Breaker] is not safe for concurrent use; the caller serialises access.
//
// # The local semantics
//
// The hosted service does not publish its evaluation algorithm. What follows
// is this package's interpretation of the breaker fields, and it is what the
// local server does.
//
// Window. At time now a breaker sees the samples with ts_ms > now-window_ms
// (default 60 s). Samples stamped in the future count as inside the window.
// Samples are ordered by ts_ms, then by arrival, so samples that arrive out
// of order (clients with different clocks) are placed where their timestamp
// says. At most [MaxSamples] samples are kept per breaker; beyond that the
// oldest are dropped, so at very high rates the window holds the most recent
// MaxSamples samples.
//
// Aggregates, over the samples of the window:
//
//	error_rate            share of samples with ok=false, a fraction in [0, 1]
//	avg, sum              mean and total of the values
//	stddev                population standard deviation of the values
//	p95, percentile       nearest-rank percentile: the smallest value v such that
//	                      at least p% of the values are <= v (kind_params.percentile
//	                      in (0, 100] for percentile, 95 for p95)
//	max, min              largest and smallest value
//	count                 number of samples
//	consecutive_failures  length of the trailing run of ok=false samples
//	delta                 value of the last sample minus value of the first
//
// An empty window has aggregate 0 and count 0.
//
// Closed. Every eval_interval_ms (default 1 s) the breaker opens when the
// window holds at least min_count samples (default 1) and
// "aggregate op threshold" holds (op gt, lt, gte, lte).
//
// Open. After the cooldown (cooldown_ms, default 30 s) the breaker goes to
// half_open with allow_rate 1/N, where N is recovery_allow_rate_ramp_steps;
// values below 2 (the default is 1) behave as 2, i.e. a single half-open
// phase at allow_rate 0.5. With N=4 the allow_rate climbs 0.25, 0.5, 0.75,
// then the breaker closes.
//
// Half-open. Only samples stamped at or after the moment the breaker entered
// half_open, and inside recovery_window_ms (default window_ms), decide. Each
// evaluation is one of:
//   - unhealthy: at least min_count samples and the condition holds. The
//     breaker re-opens at once. With half_open_backoff_enabled each such
//     re-open doubles the cooldown, up to half_open_backoff_cap_ms (default
//     10 × cooldown_ms, never below cooldown_ms); closing resets it.
//   - healthy: at least min_count samples and the condition is false. Once
//     evaluations have been healthy for half_open_confirmation_ms (default
//     5 s, counted from the start of the step or from the first healthy
//     evaluation after a different verdict), the allow_rate takes its next
//     step; after the last step the breaker closes.
//   - indeterminate: fewer than min_count samples. half_open_indeterminate_policy
//     decides: optimistic treats it as healthy, conservative (the default)
//     waits for more samples, pessimistic re-opens once it has lasted
//     half_open_confirmation_ms.
//
// Minimum state duration. No automatic change of state (closed→open,
// open→half_open, half_open→open, half_open→closed) happens before the
// breaker has spent min_state_duration_ms (default 0) in its current state;
// allow_rate steps inside half_open are not held back by it.
//
// Forced states ([Breaker.Force]) restart the timers of the new state.
//
// Reasons. Every transition carries a human-readable reason, for example
// "p95 812.3 > 500 over 214 samples", "cooldown 30s elapsed",
// "healthy for 5s: allow_rate 0.5",
// "recovered: p95 120.4 <= 500 over 80 samples" or "forced".
package engine
