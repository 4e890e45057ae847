package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/tripswitch-otel/tripswitch-go/admin"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
)

// startExampleServer starts a local Tripswitch server standing in for the
// hosted service; it returns the base URL, the admin key and a stop function.
func startExampleServer() (baseURL, adminKey string, stop func()) {
	srv, err := localserver.New(localserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	creds := srv.Credentials()
	return creds.BaseURL, creds.AdminKey, func() { _ = srv.Shutdown(context.Background()) }
}

// The automation flow of a deployment pipeline: create a project, then
// declare its router and breakers. EnsureRouter and EnsureBreaker create
// what is missing and update what exists, by name, and never delete, so
// the pipeline can run them on every deploy.
func Example() {
	baseURL, adminKey, stop := startExampleServer()
	defer stop()
	ctx := context.Background()

	// In production: admin.NewClient(os.Getenv("TRIPSWITCH_ADMIN_KEY")).
	c, err := admin.NewClient(adminKey, admin.WithBaseURL(baseURL))
	if err != nil {
		log.Fatal(err)
	}

	project, err := c.CreateProject(ctx, admin.CreateProjectInput{Name: "prod-payments"})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 { // a second deploy changes nothing
		router, err := c.EnsureRouter(ctx, project.ID, admin.CreateRouterInput{Name: "checkout", Mode: admin.RouterModeStatic})
		if err != nil {
			log.Fatal(err)
		}
		for _, in := range []admin.CreateBreakerInput{
			{Name: "checkout-latency", Metric: "latency_ms", Kind: admin.KindP95, Op: admin.OpGt, Threshold: 500, WindowMs: 60_000},
			{Name: "checkout-errors", Metric: "latency_ms", Kind: admin.KindErrorRate, Op: admin.OpGte, Threshold: 0.05},
		} {
			in.RouterIDs = []string{router.ID}
			if _, err := c.EnsureBreaker(ctx, project.ID, in); err != nil {
				log.Fatal(err)
			}
		}
	}

	for r, err := range c.ListRoutersAll(ctx, project.ID, admin.ListRoutersParams{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("project %s, router %s with %d breakers:\n", project.Name, r.Name, r.BreakerCount)
	}
	for b, err := range c.ListBreakersAll(ctx, project.ID, admin.ListBreakersParams{}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("  %s: %s %s %g\n", b.Name, b.Kind, b.Op, b.Threshold)
	}
	// Output:
	// project prod-payments, router checkout with 2 breakers:
	//   checkout-latency: p95 gt 500
	//   checkout-errors: error_rate gte 0.05
}

// SyncBreakers makes the project's breakers exactly the list given: every
// breaker not in the list is deleted, whoever created it. To add or update
// some breakers and leave the others alone, use EnsureBreaker.
func ExampleClient_SyncBreakers() {
	baseURL, adminKey, stop := startExampleServer()
	defer stop()
	ctx := context.Background()
	c, err := admin.NewClient(adminKey, admin.WithBaseURL(baseURL))
	if err != nil {
		log.Fatal(err)
	}
	p, err := c.CreateProject(ctx, admin.CreateProjectInput{Name: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.CreateBreaker(ctx, p.ID, admin.CreateBreakerInput{
		Name: "made-elsewhere", Metric: "latency_ms", Kind: admin.KindMax, Op: admin.OpGt, Threshold: 2000,
	})
	if err != nil {
		log.Fatal(err)
	}

	// Deletes every breaker of the project that is not in this list.
	breakers, err := c.SyncBreakers(ctx, p.ID, []admin.CreateBreakerInput{
		{Name: "checkout-latency", Metric: "latency_ms", Kind: admin.KindP95, Op: admin.OpGt, Threshold: 500, WindowMs: 60_000},
		{Name: "checkout-errors", Metric: "latency_ms", Kind: admin.KindErrorRate, Op: admin.OpGte, Threshold: 0.05},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range breakers {
		fmt.Println(b.Name)
	}
	_, err = c.EnsureBreaker(ctx, p.ID, admin.CreateBreakerInput{
		Name: "made-elsewhere", Metric: "latency_ms", Kind: admin.KindMax, Op: admin.OpGt, Threshold: 2000,
	})
	fmt.Println("made-elsewhere restored:", err == nil)
	// Output:
	// checkout-latency
	// checkout-errors
	// made-elsewhere restored: true
}

// Deleting a project requires its current name, so that a script with a
// wrong ID cannot delete the wrong project.
func ExampleClient_DeleteProject() {
	baseURL, adminKey, stop := startExampleServer()
	defer stop()
	ctx := context.Background()
	c, err := admin.NewClient(adminKey, admin.WithBaseURL(baseURL))
	if err != nil {
		log.Fatal(err)
	}
	p, err := c.CreateProject(ctx, admin.CreateProjectInput{Name: "staging"})
	if err != nil {
		log.Fatal(err)
	}

	err = c.DeleteProject(ctx, p.ID, "production")
	fmt.Println("wrong name refused:", errors.Is(err, admin.ErrNameMismatch))

	err = c.DeleteProject(ctx, p.ID, "staging")
	fmt.Println("deleted:", err == nil)
	// Output:
	// wrong name refused: true
	// deleted: true
}

// Errors match sentinels with errors.Is; *APIError carries the details.
func ExampleAPIError() {
	baseURL, adminKey, stop := startExampleServer()
	defer stop()
	ctx := context.Background()
	c, err := admin.NewClient(adminKey, admin.WithBaseURL(baseURL))
	if err != nil {
		log.Fatal(err)
	}
	p, _ := c.CreateProject(ctx, admin.CreateProjectInput{Name: "demo"})
	r, _ := c.CreateRouter(ctx, p.ID, admin.CreateRouterInput{Name: "api", Mode: admin.RouterModeStatic})
	_, _ = c.CreateBreaker(ctx, p.ID, admin.CreateBreakerInput{
		Name: "api-errors", Metric: "latency_ms", Kind: admin.KindErrorRate, Op: admin.OpGt, Threshold: 0.1,
		RouterIDs: []string{r.ID},
	})

	err = c.DeleteRouter(ctx, p.ID, r.ID) // the router still has a linked breaker
	var apiErr *admin.APIError
	if errors.Is(err, admin.ErrConflict) && errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code)
	}
	// Output:
	// 409 router_has_breakers
}

// Update inputs use pointers: only the fields set are sent, and a pointer
// to a zero value sets zero.
func ExampleClient_UpdateBreaker() {
	baseURL, adminKey, stop := startExampleServer()
	defer stop()
	ctx := context.Background()
	c, err := admin.NewClient(adminKey, admin.WithBaseURL(baseURL))
	if err != nil {
		log.Fatal(err)
	}
	p, _ := c.CreateProject(ctx, admin.CreateProjectInput{Name: "demo"})
	b, err := c.CreateBreaker(ctx, p.ID, admin.CreateBreakerInput{
		Name: "queue-depth", Metric: "depth", Kind: admin.KindMax, Op: admin.OpGt, Threshold: 1000, WindowMs: 30_000,
	})
	if err != nil {
		log.Fatal(err)
	}

	b, err = c.UpdateBreaker(ctx, p.ID, b.ID, admin.UpdateBreakerInput{Threshold: admin.Ptr(0.0)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Threshold, b.WindowMs)
	// Output:
	// 0 30000
}
