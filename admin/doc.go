// Package admin is a client for the Tripswitch management API: workspaces,
// projects (ingest-secret rotation, project keys), breakers, routers,
// notification channels and the state-transition history. It is meant for
// automation: CI jobs and infrastructure code that create projects, sync
// breakers, link routers and rotate secrets.
//
// # Basics
//
// A [Client] is built once with an admin key ("eb_admin_…") and is safe for
// concurrent use. Every call takes a context first and accepts
// [RequestOption]s: [WithIdempotencyKey], [WithRequestID], [WithTimeout] and
// [WithHeader].
//
//	c, err := admin.NewClient(os.Getenv("TRIPSWITCH_ADMIN_KEY"))
//	p, err := c.CreateProject(ctx, admin.CreateProjectInput{Name: "payments"})
//
// Durations in breaker configurations are int64 milliseconds, exactly as on
// the wire (fields ending in Ms). Times read from the server are [time.Time]
// parsed from RFC 3339. Optional fields of update inputs are pointers, so
// that "not set" differs from a zero value; [Ptr] makes one from a literal.
// Responses are read in either shape the contract allows (a wrapped or bare
// breaker or router; a list or an object for sync and batch state).
//
// # Declaring routers and breakers
//
// [Client.EnsureRouter] and [Client.EnsureBreaker] create a router or a
// breaker by name when it is missing and update it when it exists; they
// never delete anything, so a deployment script can run them every time.
// [Client.SyncBreakers] instead makes the project's breakers exactly the
// list given and deletes every other breaker of the project.
//
// # Errors
//
// A failed call returns an [*APIError] with the status, the server's code and
// message, the request ID and Retry-After. It matches one of [ErrValidation],
// [ErrUnauthorized], [ErrForbidden], [ErrNotFound], [ErrConflict],
// [ErrRateLimited], [ErrServerFault] or [ErrTransport] with errors.Is. Error
// bodies are read up to 64 KiB. Neither errors nor log records ever contain
// the admin key, and plain http is refused for non-loopback hosts unless
// [WithInsecureHTTP] is given.
//
// Deleting a workspace or a project requires its current name as a
// confirmation; on a mismatch nothing is deleted and the error matches
// [ErrNameMismatch]. [NewClient] refuses an empty key, a bad base URL or an
// invalid option with an error that names it and matches [ErrInvalidOption].
//
// # Retries
//
// 429, 503 and transport failures are retried with exponential backoff and
// jitter, honouring Retry-After and the context (see [RetryPolicy]). GET, PUT
// and DELETE are always eligible; POST and PATCH only with an
// Idempotency-Key. The client adds a random key to every POST that has none
// (see [WithAutoIdempotencyKeys]). [APIError.Attempts] and the logger's
// records show the retries; [WithoutRetries] turns them off.
//
// # Pagination
//
// Paged lists (breakers, routers, notification channels, events) have a
// single-page call and an iterator beside it:
//
//	for b, err := range c.ListBreakersAll(ctx, projectID, admin.ListBreakersParams{}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(b.Name)
//	}
package admin
