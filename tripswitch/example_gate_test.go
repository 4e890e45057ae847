package tripswitch_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// A gate suits code that cannot be a closure: check the breakers now, run
// anything, report the outcome once.
func ExampleGate() {
	srv, creds := startLocalServer()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	// Once, at start-up.
	gate, err := tripswitch.PrepareGate(client,
		tripswitch.WithBreakers("pricing-errors"),
		tripswitch.WithRouter("rtr_pricing"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	if err != nil {
		log.Fatal(err)
	}

	// Per call: allocation-free.
	permit, err := gate.Allow(ctx)
	if errors.Is(err, tripswitch.ErrOpen) {
		fmt.Println("rejected: serve a fallback")
		return
	}
	var callErr error // ... start the call, stream its answer, and so on ...
	permit.Done(callErr)

	_ = client.Flush(ctx)
	fmt.Println("samples:", len(srv.Samples(creds.ProjectID)))
	// Output: samples: 1
}

// Finish reports an outcome decided by the caller, with metrics known
// only at the end.
func ExamplePermit_Finish() {
	srv, creds := startLocalServer()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	permit, err := tripswitch.Allow(client, ctx,
		tripswitch.WithBreakers("pricing-errors"),
		tripswitch.WithRouter("rtr_pricing"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	if err != nil {
		log.Fatal(err)
	}
	permit.Finish(tripswitch.Outcome{
		OK:      true,
		Metrics: map[string]float64{"tokens": 812},
		Tags:    map[string]string{"model": "small"},
	})
	permit.Done(errors.New("ignored")) // a second completion does nothing

	_ = client.Flush(ctx)
	for _, s := range srv.Samples(creds.ProjectID) {
		fmt.Println(s.Metric, s.OK, s.Tags["model"])
	}
	// Unordered output:
	// latency true small
	// tokens true small
}
