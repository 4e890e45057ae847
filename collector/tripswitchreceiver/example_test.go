package tripswitchreceiver_test

import (
	"fmt"

	"github.com/tripswitch-otel/tripswitch-go/collector/tripswitchreceiver"
)

// The factory a distribution registers, and its defaults.
func ExampleNewFactory() {
	f := tripswitchreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*tripswitchreceiver.Config)
	fmt.Println(f.Type(), cfg.Endpoint, cfg.CollectionInterval)
	// Output:
	// tripswitch https://api.tripswitch.dev 10s
}
