package tripswitch_test

import (
	"context"
	"errors"
	"log"
	"os"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Connecting to the hosted service: the default base URL is
// DefaultBaseURL, so only the project's credentials are needed.
func Example_hostedService() {
	ctx := context.Background()
	client, err := tripswitch.NewClient(ctx, os.Getenv("TRIPSWITCH_PROJECT_ID"),
		tripswitch.WithProjectKey(os.Getenv("TRIPSWITCH_API_KEY")),
		tripswitch.WithIngestSecret(os.Getenv("TRIPSWITCH_INGEST_SECRET")),
	)
	if errors.Is(err, tripswitch.ErrNotSynced) {
		log.Print(err) // unreachable for now: carry on, fail-open
	} else if err != nil {
		log.Fatal(err)
	}
	defer client.Close(ctx)
}
