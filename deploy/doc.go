// Package deploy holds the configuration of the docker compose stack
// (docker-compose.yml at the repository root): Dockerfiles for the local
// server and the demo, the healthcheck probe built into both images
// (deploy/healthcheck: the images have no shell or curl), the
// OpenTelemetry Collector's configuration, Prometheus's scrape
// configuration, and Grafana's provisioning with the "Tripswitch demo"
// dashboard.
//
// The package has no Go API. Its tests parse every configuration file and
// check the wiring between them: service names and ports, the credentials
// shared by the server and the demo, the healthchecks the services wait
// for, the collector's pipelines, the scrape targets, the data source and
// jobs the dashboard queries, and that .dockerignore keeps every file the
// image builds read. The demo's own end-to-end test (examples/otel-demo)
// checks that every metric and label the dashboard queries appears in a
// real scrape of the demo. A test of the README checks that its Go
// snippets are excerpts of Example functions.
//
// The tests read the YAML files with go.yaml.in/yaml/v3, so any valid
// YAML (anchors, merge keys, flow mappings, block scalars) is understood.
package deploy
