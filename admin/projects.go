package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Project holds breakers and routers; runtime clients connect to one project.
type Project struct {
	ID                 string `json:"project_id"`
	WorkspaceID        string `json:"workspace_id"`
	Name               string `json:"name"`
	SlackWebhookURL    string `json:"slack_webhook_url,omitempty"`
	TraceIDURLTemplate string `json:"trace_id_url_template,omitempty"`
	EnableSignedIngest bool   `json:"enable_signed_ingest"`
}

// UnmarshalJSON reads a project, accepting "id" when "project_id" is absent.
func (p *Project) UnmarshalJSON(data []byte) error {
	type plain Project
	var v struct {
		plain
		AltID string `json:"id"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*p = Project(v.plain)
	if p.ID == "" {
		p.ID = v.AltID
	}
	return nil
}

// ProjectList is the response of [Client.ListProjects].
type ProjectList struct {
	Projects []Project `json:"projects"`
	Count    int       `json:"count"`
}

// ListProjectsParams filters [Client.ListProjects]; the zero value lists all.
type ListProjectsParams struct {
	WorkspaceID string
}

// CreateProjectInput is the body of [Client.CreateProject]. WorkspaceID is
// optional.
type CreateProjectInput struct {
	Name        string `json:"name"`
	WorkspaceID string `json:"workspace_id,omitempty"`
}

// UpdateProjectInput is the body of [Client.UpdateProject]; nil fields are
// left unchanged, and a pointer to "" clears a string field.
type UpdateProjectInput struct {
	Name               *string `json:"name,omitempty"`
	SlackWebhookURL    *string `json:"slack_webhook_url,omitempty"`
	TraceIDURLTemplate *string `json:"trace_id_url_template,omitempty"`
	EnableSignedIngest *bool   `json:"enable_signed_ingest,omitempty"`
}

// IngestSecret is the response of [Client.RotateIngestSecret]. Its String
// method hides the secret, so printing or logging it does not leak it.
type IngestSecret struct {
	// Secret is the new 64-hex-character ingest secret, shown only once.
	Secret string `json:"ingest_secret"`
}

// String returns a redacted form.
func (s IngestSecret) String() string { return "IngestSecret(" + redacted + ")" }

// GoString returns a redacted form.
func (s IngestSecret) GoString() string { return s.String() }

// ProjectKey describes a project key ("eb_pk_…") without the key itself.
type ProjectKey struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	KeyPrefix string `json:"key_prefix"`
	// LastUsedAt is zero when the key was never used.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	InsertedAt time.Time `json:"inserted_at,omitzero"`
}

// ProjectKeyList is the response of [Client.ListProjectKeys].
type ProjectKeyList struct {
	Keys  []ProjectKey `json:"keys"`
	Count int          `json:"count"`
}

// CreateProjectKeyInput is the body of [Client.CreateProjectKey]; Name is optional.
type CreateProjectKeyInput struct {
	Name string `json:"name,omitempty"`
}

// CreatedProjectKey is the response of [Client.CreateProjectKey], the only
// time the full key is shown. Its String method hides the key.
type CreatedProjectKey struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Key       string `json:"key"`
	KeyPrefix string `json:"key_prefix"`
	Message   string `json:"message,omitempty"`
}

// String returns a form without the key.
func (k CreatedProjectKey) String() string {
	return fmt.Sprintf("CreatedProjectKey{ID:%q Name:%q KeyPrefix:%q Key:%s}", k.ID, k.Name, k.KeyPrefix, redacted)
}

// GoString returns a form without the key.
func (k CreatedProjectKey) GoString() string { return k.String() }

// ListProjects returns the projects the key can see, optionally of one workspace.
func (c *Client) ListProjects(ctx context.Context, params ListProjectsParams, opts ...RequestOption) (*ProjectList, error) {
	q := url.Values{}
	if params.WorkspaceID != "" {
		q.Set("workspace_id", params.WorkspaceID)
	}
	var out ProjectList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/projects", query: q}, &out, opts); err != nil {
		return nil, err
	}
	if out.Projects == nil {
		out.Projects = []Project{}
	}
	return &out, nil
}

// CreateProject creates a project.
func (c *Client) CreateProject(ctx context.Context, in CreateProjectInput, opts ...RequestOption) (*Project, error) {
	var out Project
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/projects", in: in}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetProject returns one project.
func (c *Client) GetProject(ctx context.Context, projectID string, opts ...RequestOption) (*Project, error) {
	p, err := buildPath("/v1/projects/%s", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	var out Project
	if err := c.do(ctx, call{method: http.MethodGet, path: p}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateProject changes the fields set in in and returns the project.
func (c *Client) UpdateProject(ctx context.Context, projectID string, in UpdateProjectInput, opts ...RequestOption) (*Project, error) {
	p, err := buildPath("/v1/projects/%s", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	var out Project
	if err := c.do(ctx, call{method: http.MethodPatch, path: p, in: in}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteProject deletes a project after checking that confirmName equals its
// current name. On a mismatch it returns an error matching [ErrNameMismatch]
// and sends no DELETE.
func (c *Client) DeleteProject(ctx context.Context, projectID, confirmName string, opts ...RequestOption) error {
	ctx, cancel := scopeTimeout(ctx, opts)
	defer cancel()
	pr, err := c.GetProject(ctx, projectID, opts...)
	if err != nil {
		return err
	}
	if confirmName != pr.Name {
		return fmt.Errorf("%w: project %s is named %q, confirmation was %q", ErrNameMismatch, projectID, pr.Name, confirmName)
	}
	p, _ := buildPath("/v1/projects/%s", arg("project ID", projectID))
	return c.do(ctx, call{method: http.MethodDelete, path: p}, nil, opts)
}

// RotateIngestSecret replaces the project's ingest secret. Samples signed with
// the old secret are rejected from then on.
func (c *Client) RotateIngestSecret(ctx context.Context, projectID string, opts ...RequestOption) (*IngestSecret, error) {
	p, err := buildPath("/v1/projects/%s/ingest_secret/rotate", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	var out IngestSecret
	if err := c.do(ctx, call{method: http.MethodPost, path: p}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListProjectKeys returns the project's keys (without the keys themselves).
func (c *Client) ListProjectKeys(ctx context.Context, projectID string, opts ...RequestOption) (*ProjectKeyList, error) {
	p, err := buildPath("/v1/projects/%s/keys", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	var out ProjectKeyList
	if err := c.do(ctx, call{method: http.MethodGet, path: p}, &out, opts); err != nil {
		return nil, err
	}
	if out.Keys == nil {
		out.Keys = []ProjectKey{}
	}
	return &out, nil
}

// CreateProjectKey creates a project key and returns it in full.
func (c *Client) CreateProjectKey(ctx context.Context, projectID string, in CreateProjectKeyInput, opts ...RequestOption) (*CreatedProjectKey, error) {
	p, err := buildPath("/v1/projects/%s/keys", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	var out CreatedProjectKey
	if err := c.do(ctx, call{method: http.MethodPost, path: p, in: in}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteProjectKey revokes a project key.
func (c *Client) DeleteProjectKey(ctx context.Context, projectID, keyID string, opts ...RequestOption) error {
	p, err := buildPath("/v1/projects/%s/keys/%s", arg("project ID", projectID), arg("key ID", keyID))
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: p}, nil, opts)
}
