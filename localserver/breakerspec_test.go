package localserver

import (
	"encoding/json"
	"testing"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// The JSON of a spec is what responses, the data file and the
// configuration hash are made of: its field names and order must not drift
// when the settings are reorganised.
func TestBreakerSpecJSON(t *testing.T) {
	sp := breakerSpec{
		Name: "n",
		Config: engine.Config{
			Metric: "latency", Kind: "percentile", KindParams: map[string]float64{"percentile": 99}, Op: "gt", Threshold: 500,
			WindowMs: 1, MinCount: 2, MinStateDurationMs: 3, CooldownMs: 4, EvalIntervalMs: 5,
			HalfOpenConfirmationMs: 6, HalfOpenBackoffEnabled: true, HalfOpenBackoffCapMs: 7,
			HalfOpenIndeterminatePolicy: "optimistic", RecoveryWindowMs: 8, RecoveryAllowRateRampSteps: 9,
		},
		Actions:  json.RawMessage(`{"a":1}`),
		Metadata: map[string]string{"team": "x"},
	}
	got, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"n","metric":"latency","kind":"percentile","kind_params":{"percentile":99},"op":"gt","threshold":500,` +
		`"window_ms":1,"min_count":2,"min_state_duration_ms":3,"cooldown_ms":4,"eval_interval_ms":5,` +
		`"half_open_confirmation_ms":6,"half_open_backoff_enabled":true,"half_open_backoff_cap_ms":7,` +
		`"half_open_indeterminate_policy":"optimistic","recovery_window_ms":8,"recovery_allow_rate_ramp_steps":9,` +
		`"actions":{"a":1},"metadata":{"team":"x"}}`
	if string(got) != want {
		t.Errorf("spec JSON\n got %s\nwant %s", got, want)
	}
	var back breakerSpec
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(back); string(again) != want {
		t.Errorf("spec JSON does not round-trip:\n got %s\nwant %s", again, want)
	}
}
