package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Workspace groups projects within an organisation.
type Workspace struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Slug       string    `json:"slug"`
	OrgID      string    `json:"org_id"`
	InsertedAt time.Time `json:"inserted_at,omitzero"`
}

// CreateWorkspaceInput is the body of [Client.CreateWorkspace].
type CreateWorkspaceInput struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// UpdateWorkspaceInput is the body of [Client.UpdateWorkspace]; nil fields are
// left unchanged.
type UpdateWorkspaceInput struct {
	Name *string `json:"name,omitempty"`
	Slug *string `json:"slug,omitempty"`
}

// ListWorkspaces returns every workspace the key can see.
func (c *Client) ListWorkspaces(ctx context.Context, opts ...RequestOption) ([]Workspace, error) {
	var out struct {
		Workspaces []Workspace `json:"workspaces"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/workspaces"}, &out, opts); err != nil {
		return nil, err
	}
	if out.Workspaces == nil {
		out.Workspaces = []Workspace{}
	}
	return out.Workspaces, nil
}

// CreateWorkspace creates a workspace.
func (c *Client) CreateWorkspace(ctx context.Context, in CreateWorkspaceInput, opts ...RequestOption) (*Workspace, error) {
	var out Workspace
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/workspaces", in: in}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWorkspace returns one workspace.
func (c *Client) GetWorkspace(ctx context.Context, workspaceID string, opts ...RequestOption) (*Workspace, error) {
	p, err := buildPath("/v1/workspaces/%s", arg("workspace ID", workspaceID))
	if err != nil {
		return nil, err
	}
	var out Workspace
	if err := c.do(ctx, call{method: http.MethodGet, path: p}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateWorkspace changes the fields set in in and returns the workspace.
func (c *Client) UpdateWorkspace(ctx context.Context, workspaceID string, in UpdateWorkspaceInput, opts ...RequestOption) (*Workspace, error) {
	p, err := buildPath("/v1/workspaces/%s", arg("workspace ID", workspaceID))
	if err != nil {
		return nil, err
	}
	var out Workspace
	if err := c.do(ctx, call{method: http.MethodPatch, path: p, in: in}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWorkspace deletes a workspace after checking that confirmName equals
// its current name. On a mismatch it returns an error matching
// [ErrNameMismatch] and sends no DELETE.
func (c *Client) DeleteWorkspace(ctx context.Context, workspaceID, confirmName string, opts ...RequestOption) error {
	ctx, cancel := scopeTimeout(ctx, opts)
	defer cancel()
	ws, err := c.GetWorkspace(ctx, workspaceID, opts...)
	if err != nil {
		return err
	}
	if confirmName != ws.Name {
		return fmt.Errorf("%w: workspace %s is named %q, confirmation was %q", ErrNameMismatch, workspaceID, ws.Name, confirmName)
	}
	p, _ := buildPath("/v1/workspaces/%s", arg("workspace ID", workspaceID))
	return c.do(ctx, call{method: http.MethodDelete, path: p}, nil, opts)
}
