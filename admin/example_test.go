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

// The automation flow of a deployment pipeline: create a project, create a
// router, declare the breakers, and link them to the router.
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
	router, err := c.CreateRouter(ctx, project.ID, admin.CreateRouterInput{
		Name: "checkout", Mode: admin.RouterModeStatic,
	})
	if err != nil {
		log.Fatal(err)
	}

	// SyncBreakers makes the project's breakers exactly this list, so the
	// pipeline can run it on every deploy.
	breakers, err := c.SyncBreakers(ctx, project.ID, []admin.CreateBreakerInput{
		{Name: "checkout-latency", Metric: "latency_ms", Kind: admin.KindP95, Op: admin.OpGt, Threshold: 500, WindowMs: 60_000},
		{Name: "checkout-errors", Metric: "latency_ms", Kind: admin.KindErrorRate, Op: admin.OpGte, Threshold: 0.05},
	})
	if err != nil {
		log.Fatal(err)
	}
	ids := make([]string, len(breakers))
	for i, b := range breakers {
		ids[i] = b.ID
	}
	if err := c.LinkBreakers(ctx, project.ID, router.ID, ids); err != nil {
		log.Fatal(err)
	}

	linked, err := c.GetRouter(ctx, project.ID, router.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("project %s, router %s with %d breakers:\n", project.Name, linked.Name, linked.BreakerCount)
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
