package tripswitch_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// startLocalServer runs the project's local Tripswitch server with one
// router and one breaker, for the examples.
func startLocalServer() (*localserver.Server, localserver.Credentials) {
	srv, err := localserver.New(localserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	creds := srv.Credentials()
	err = srv.Seed(creds.ProjectID, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_pricing", Name: "pricing"}},
		Breakers: []localserver.SeedBreaker{{
			Name: "pricing-errors", Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5,
			MinCount: 10, RouterIDs: []string{"rtr_pricing"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	return srv, creds
}

func Example() {
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

	price, err := tripswitch.Execute(client, ctx, func() (float64, error) {
		return 9.99, nil // call the pricing service here
	},
		tripswitch.WithBreakers("pricing-errors"),
		tripswitch.WithRouter("rtr_pricing"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	if errors.Is(err, tripswitch.ErrOpen) {
		price = 10.00 // the breaker rejected the call: serve a fallback
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println("price:", price)
	// Output: price: 9.99
}

func ExampleExecute_rejected() {
	srv, creds := startLocalServer()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	// Open the breaker on the server and wait for the state stream.
	if err := srv.ForceState(creds.ProjectID, "pricing-errors", "open", 0); err != nil {
		log.Fatal(err)
	}
	for st, _ := client.State("pricing-errors"); st.State != tripswitch.StateOpen; st, _ = client.State("pricing-errors") {
		time.Sleep(10 * time.Millisecond)
	}

	_, err = tripswitch.Execute(client, ctx, func() (float64, error) { return 9.99, nil },
		tripswitch.WithBreakers("pricing-errors"))
	var rejected *tripswitch.BreakerError
	if errors.As(err, &rejected) {
		fmt.Println("rejected by", rejected.Breaker, "because it is", rejected.Reason)
	}
	// Output: rejected by pricing-errors because it is open
}

func ExamplePrepare() {
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

	// Compile the options once; every Execute then allocates nothing.
	getPrice, err := tripswitch.Prepare[float64](client,
		tripswitch.WithBreakers("pricing-errors"),
		tripswitch.WithRouter("rtr_pricing"),
		tripswitch.WithMetric("latency", tripswitch.Latency),
	)
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		if _, err := getPrice.Execute(ctx, func() (float64, error) { return 9.99, nil }); err != nil {
			log.Fatal(err)
		}
	}
	if err := client.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("samples at the server:", len(srv.Samples(creds.ProjectID)))
	// Output: samples at the server: 3
}

func ExampleClient_Report() {
	srv, creds := startLocalServer()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithIngestSecret(creds.IngestSecret),
		tripswitch.WithGlobalTags(map[string]string{"service": "checkout"}),
	)
	if err != nil {
		log.Fatal(err)
	}
	// A sample outside Execute, such as a queue depth.
	err = client.Report(ctx, tripswitch.Sample{RouterID: "rtr_pricing", Metric: "queue_depth", Value: 42, OK: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Close(ctx); err != nil { // Close flushes
		log.Fatal(err)
	}
	s := client.Stats()
	fmt.Printf("produced %d, delivered %d, dropped %d\n", s.Produced, s.Delivered, s.Dropped)
	// Output: produced 1, delivered 1, dropped 0
}
