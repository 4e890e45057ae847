// Package tripswitchreceiver is an OpenTelemetry Collector receiver that
// follows a Tripswitch project's breaker state stream and emits the
// breakers' state as metrics, in the names and shape otelbridge publishes
// from an application: tripswitch.breaker.state (1 for the current state,
// 0 for the others, per breaker and state), tripswitch.breaker.allow_rate,
// tripswitch.breaker.transitions and tripswitch.breaker.count. One
// Collector thus gives fleet dashboards without any SDK.
//
//	receivers:
//	  tripswitch:
//	    endpoint: https://api.tripswitch.dev
//	    project_id: proj_abc123
//	    project_key: ${env:TRIPSWITCH_API_KEY}
//	    collection_interval: 10s   # default
//
// The receiver connects in the background: the Collector starts whether
// or not Tripswitch can be reached, and the receiver keeps trying. Its
// metrics carry the resource attribute tripswitch.project.id.
package tripswitchreceiver
