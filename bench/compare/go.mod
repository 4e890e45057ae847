module github.com/tripswitch-otel/tripswitch-go/bench/compare

go 1.26.0

require github.com/tripswitch-otel/tripswitch-go v0.0.0

require (
	github.com/r3labs/sse/v2 v2.10.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0
	golang.org/x/net v0.59.0 // indirect
	gopkg.in/cenkalti/backoff.v1 v1.1.0 // indirect
)

replace github.com/tripswitch-otel/tripswitch-go => ../..
