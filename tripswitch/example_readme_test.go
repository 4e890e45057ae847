package tripswitch_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// Connecting to the hosted service: the default base URL is
// DefaultBaseURL, so only the project's credentials are needed.
func Example_hostedService() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := tripswitch.NewClient(ctx, os.Getenv("TRIPSWITCH_PROJECT_ID"),
		tripswitch.WithProjectKey(os.Getenv("TRIPSWITCH_API_KEY")),
		tripswitch.WithIngestSecret(os.Getenv("TRIPSWITCH_INGEST_SECRET")),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close(context.Background())
}
