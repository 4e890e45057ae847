package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/admin"
	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// backend is the Tripswitch server the demo talks to: the in-process local
// server, or a remote one named by the environment.
type backend struct {
	BaseURL      string
	ProjectID    string
	ProjectKey   string
	IngestSecret string
	InsecureHTTP bool
	Admin        *admin.Client       // nil without an admin key
	Local        *localserver.Server // nil for a remote server
}

// startBackend starts the local server (cfg.Remote nil) or connects the
// admin client to the remote one.
func startBackend(cfg config) (*backend, error) {
	if r := cfg.Remote; r != nil {
		b := &backend{
			BaseURL:      r.BaseURL,
			ProjectID:    r.ProjectID,
			ProjectKey:   r.ProjectKey,
			IngestSecret: r.IngestSecret,
			InsecureHTTP: r.InsecureHTTP,
		}
		if r.AdminKey != "" {
			opts := []admin.Option{admin.WithBaseURL(r.BaseURL)}
			if r.InsecureHTTP {
				opts = append(opts, admin.WithInsecureHTTP())
			}
			c, err := admin.NewClient(r.AdminKey, opts...)
			if err != nil {
				return nil, fmt.Errorf("TRIPSWITCH_ADMIN_KEY / TRIPSWITCH_BASE_URL: %w", err)
			}
			b.Admin = c
		}
		return b, nil
	}
	srv, err := localserver.New(localserver.Config{})
	if err != nil {
		return nil, fmt.Errorf("local server: %w", err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("local server: %w", err)
	}
	creds := srv.Credentials()
	ac, err := admin.NewClient(creds.AdminKey, admin.WithBaseURL(creds.BaseURL))
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return &backend{
		BaseURL:      creds.BaseURL,
		ProjectID:    creds.ProjectID,
		ProjectKey:   creds.ProjectKey,
		IngestSecret: creds.IngestSecret,
		Admin:        ac,
		Local:        srv,
	}, nil
}

// close stops the local server, if any.
func (b *backend) close(ctx context.Context) error {
	if b.Local == nil {
		return nil
	}
	return b.Local.Shutdown(ctx)
}

// describe says where the server is, without credentials.
func (b *backend) describe() string {
	if b.Local != nil {
		return fmt.Sprintf("local server %s (in-process), project %s", b.BaseURL, b.ProjectID)
	}
	return fmt.Sprintf("server %s, project %s", b.BaseURL, b.ProjectID)
}

// provision creates the payments router and breakers, or brings existing
// ones (from an earlier run) to the schedule's settings, and returns the
// router's ID and the breakers' IDs by name. It never deletes anything:
// other routers and breakers of the project are left alone.
func (b *backend) provision(ctx context.Context, breakers []admin.CreateBreakerInput) (routerID string, ids map[string]string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := b.Admin.EnsureRouter(ctx, b.ProjectID, admin.CreateRouterInput{
		Name:        routerName,
		Description: "the payments dependency of checkout",
		Mode:        admin.RouterModeStatic,
		Metadata:    map[string]string{"dependency": "payments"},
	})
	if err != nil {
		return "", nil, fmt.Errorf("router %q: %w", routerName, err)
	}
	ids = make(map[string]string, len(breakers))
	for _, in := range breakers {
		in.RouterIDs = []string{r.ID}
		br, err := b.Admin.EnsureBreaker(ctx, b.ProjectID, in)
		if err != nil {
			return "", nil, fmt.Errorf("breaker %q: %w", in.Name, err)
		}
		ids[in.Name] = br.ID
	}
	return r.ID, ids, nil
}

// lookupRouter finds the payments router and checks that the breakers
// exist, through the runtime client's metadata; it is how the demo runs
// against a project without an admin key.
func lookupRouter(c *tripswitch.Client) (string, error) {
	routers, err := c.RouterMetadata()
	if err != nil {
		return "", fmt.Errorf("read router metadata: %w", err)
	}
	var routerID string
	for _, r := range routers {
		if r.Name == routerName {
			routerID = r.ID
		}
	}
	metas, err := c.BreakerMetadata()
	if err != nil {
		return "", fmt.Errorf("read breaker metadata: %w", err)
	}
	var missing []string
	if routerID == "" {
		missing = append(missing, fmt.Sprintf("router %q", routerName))
	}
	for _, name := range breakerNames {
		if !slices.ContainsFunc(metas, func(m tripswitch.BreakerMeta) bool { return m.Name == name }) {
			missing = append(missing, fmt.Sprintf("breaker %q", name))
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("the project lacks %s: set TRIPSWITCH_ADMIN_KEY to let the demo create them, or create them as the README describes",
			strings.Join(missing, ", "))
	}
	return routerID, nil
}
