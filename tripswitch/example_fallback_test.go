package tripswitch_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// While the service is unreachable, a local policy sheds calls to a
// dependency that keeps failing, instead of running them all (fail-open)
// or rejecting them all (fail-closed).
func ExampleWithLocalFallback() {
	srv, creds := startLocalServer()
	client, err := tripswitch.NewClient(context.Background(), creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
		tripswitch.WithStateGracePeriod(0), // stale as soon as the stream drops
		tripswitch.WithLocalFallback(tripswitch.LocalPolicy{ConsecutiveFailures: 3, Cooldown: time.Minute}),
		tripswitch.WithHooks(tripswitch.Hooks{LocalChange: func(ch tripswitch.LocalChange) {
			fmt.Printf("%s under local control: %v (%s → %s)\n", ch.Breaker, ch.Local, ch.From, ch.To)
		}}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = client.Close(ctx)
	}()

	_ = srv.Shutdown(context.Background()) // the service becomes unreachable
	for client.Stats().StreamConnected {
		time.Sleep(10 * time.Millisecond)
	}

	errDown := errors.New("pricing service down")
	for i := range 5 {
		_, err := tripswitch.Execute(client, context.Background(), func() (float64, error) {
			return 0, errDown
		}, tripswitch.WithBreakers("pricing-errors"))
		var be *tripswitch.BreakerError
		if errors.As(err, &be) {
			fmt.Printf("call %d: shed (%s)\n", i+1, be.Reason)
		} else {
			fmt.Printf("call %d: ran: %v\n", i+1, err)
		}
	}
	// Output:
	// pricing-errors under local control: true (closed → closed)
	// call 1: ran: pricing service down
	// call 2: ran: pricing service down
	// pricing-errors under local control: true (closed → open)
	// call 3: ran: pricing service down
	// call 4: shed (local)
	// call 5: shed (local)
}
