package tripswitchexporter_test

import (
	"fmt"

	"github.com/tripswitch-otel/tripswitch-go/collector/tripswitchexporter"
)

// The factory a distribution registers; its default config sends to the
// hosted service with the exporter helper's queue and retry enabled.
func ExampleNewFactory() {
	f := tripswitchexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*tripswitchexporter.Config)
	fmt.Println(f.Type(), cfg.Endpoint, cfg.QueueConfig.HasValue(), cfg.RetryConfig.Enabled)
	fmt.Println(cfg.Validate() != nil) // project_id, ingest_secret and rules are required
	// Output:
	// tripswitch https://api.tripswitch.dev true true
	// true
}
