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
	if errors.Is(err, tripswitch.ErrNotSynced) {
		// Tripswitch is unreachable (10 s by default): carry on. Calls run
		// (fail-open) while the client keeps connecting in the background.
		log.Print(err)
	} else if err != nil {
		log.Fatal(err) // a key, project or URL the server refuses
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

// A service starts while Tripswitch is unreachable: NewClient returns after
// the startup timeout with a working client and ErrNotSynced; gated calls
// run (fail-open) until the breaker states arrive.
func ExampleWithStartupTimeout() {
	ctx := context.Background()
	client, err := tripswitch.NewClient(ctx, "proj_abc123",
		tripswitch.WithBaseURL("http://127.0.0.1:1"), // nothing listens here
		tripswitch.WithProjectKey("eb_pk_example"),
		tripswitch.WithStartupTimeout(100*time.Millisecond),
	)
	if err != nil && !errors.Is(err, tripswitch.ErrNotSynced) {
		log.Fatal(err)
	}
	fmt.Println("not synced:", errors.Is(err, tripswitch.ErrNotSynced))
	defer client.Close(ctx)

	price, err := tripswitch.Execute(client, ctx, func() (float64, error) { return 9.99, nil },
		tripswitch.WithBreakers("pricing-errors"))
	fmt.Println("price:", price, "error:", err)
	// Output:
	// not synced: true
	// price: 9.99 error: <nil>
}

// WaitSynced waits for the first state sync of a client that NewClient
// returned with ErrNotSynced.
func ExampleClient_WaitSynced() {
	srv, creds := startLocalServer()
	defer srv.Shutdown(context.Background())
	ctx := context.Background()
	client, err := tripswitch.NewClient(ctx, creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithStartupTimeout(0), // do not wait in NewClient
	)
	if err != nil && !errors.Is(err, tripswitch.ErrNotSynced) {
		log.Fatal(err)
	}
	defer client.Close(ctx)

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.WaitSynced(wctx); err != nil {
		log.Fatal(err)
	}
	st, _ := client.State("pricing-errors")
	fmt.Println("pricing-errors is", st.State)
	// Output: pricing-errors is closed
}
