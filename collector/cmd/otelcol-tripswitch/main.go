// Command otelcol-tripswitch is an OpenTelemetry Collector distribution
// with the Tripswitch components: the OTLP receiver, the batch processor,
// the debug, OTLP and Prometheus exporters, the health check extension,
// tripswitchexporter (spans and metrics to breakers) and
// tripswitchreceiver (breaker states as metrics).
//
//	otelcol-tripswitch --config=config.yaml
//
// builder-config.yaml is the manifest that adds the same components to a
// distribution built with the OpenTelemetry Collector Builder.
package main

import (
	"log"

	"go.opentelemetry.io/collector/otelcol"
)

func main() {
	if err := otelcol.NewCommand(settings()).Execute(); err != nil {
		log.Fatal(err)
	}
}
