package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// RouterMode is how a router spreads samples over its breakers.
type RouterMode string

// Router modes.
const (
	RouterModeStatic   RouterMode = "static"
	RouterModeCanary   RouterMode = "canary"
	RouterModeWeighted RouterMode = "weighted"
)

// Router receives samples (by router ID) and feeds them to its linked breakers.
type Router struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Description  string     `json:"description,omitempty"`
	Mode         RouterMode `json:"mode"`
	Enabled      bool       `json:"enabled"`
	BreakerCount int        `json:"breaker_count"`
	// Breakers are the linked breakers. When the server lists only their IDs,
	// each element has only ID set.
	Breakers   []Breaker         `json:"breakers,omitempty"`
	InsertedAt time.Time         `json:"inserted_at,omitzero"`
	CreatedBy  string            `json:"created_by,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// UnmarshalJSON reads a router whose "breakers" are objects or IDs.
func (r *Router) UnmarshalJSON(data []byte) error {
	type plain Router
	var v struct {
		plain
		Breakers json.RawMessage `json:"breakers"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*r = Router(v.plain)
	r.Breakers = nil
	raw := bytes.TrimSpace(v.Breakers)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err == nil {
		r.Breakers = make([]Breaker, len(ids))
		for i, id := range ids {
			r.Breakers[i].ID = id
		}
		return nil
	}
	return json.Unmarshal(raw, &r.Breakers)
}

// CreateRouterInput is the body of [Client.CreateRouter]. Enabled nil leaves
// the server's default.
type CreateRouterInput struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Mode        RouterMode        `json:"mode"`
	Enabled     *bool             `json:"enabled,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// UpdateRouterInput is the body of [Client.UpdateRouter]; nil fields are left
// unchanged, and a non-nil empty Metadata is sent.
type UpdateRouterInput struct {
	Name        *string           `json:"name,omitempty"`
	Description *string           `json:"description,omitempty"`
	Mode        *RouterMode       `json:"mode,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"`
	Metadata    map[string]string `json:"metadata,omitzero"`
}

// RouterList is one page of [Client.ListRouters].
type RouterList struct {
	Routers []Router `json:"routers"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListRoutersParams selects a page of routers.
type ListRoutersParams struct {
	Cursor string
	Limit  int
}

// ListRouters returns one page of the project's routers.
func (c *Client) ListRouters(ctx context.Context, projectID string, params ListRoutersParams, opts ...RequestOption) (*RouterList, error) {
	p, err := buildPath("/v1/projects/%s/routers", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	pageQuery(q, params.Cursor, params.Limit)
	var out RouterList
	if err := c.do(ctx, call{method: http.MethodGet, path: p, query: q}, &out, opts); err != nil {
		return nil, err
	}
	if out.Routers == nil {
		out.Routers = []Router{}
	}
	return &out, nil
}

// ListRoutersAll iterates over all of the project's routers, page by page,
// starting at params.Cursor. An error is yielded once and ends the iteration.
func (c *Client) ListRoutersAll(ctx context.Context, projectID string, params ListRoutersParams, opts ...RequestOption) iter.Seq2[Router, error] {
	return paginate(ctx, params.Cursor, func(ctx context.Context, cursor string) ([]Router, string, error) {
		page, err := c.ListRouters(ctx, projectID, ListRoutersParams{Cursor: cursor, Limit: params.Limit}, opts...)
		if err != nil {
			return nil, "", err
		}
		return page.Routers, page.NextCursor, nil
	})
}

// CreateRouter creates a router.
func (c *Client) CreateRouter(ctx context.Context, projectID string, in CreateRouterInput, opts ...RequestOption) (*Router, error) {
	p, err := buildPath("/v1/projects/%s/routers", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	return c.routerCall(ctx, call{method: http.MethodPost, path: p, in: in}, opts)
}

// GetRouter returns one router.
func (c *Client) GetRouter(ctx context.Context, projectID, routerID string, opts ...RequestOption) (*Router, error) {
	p, err := routerPath(projectID, routerID, "")
	if err != nil {
		return nil, err
	}
	return c.routerCall(ctx, call{method: http.MethodGet, path: p}, opts)
}

// UpdateRouter changes the fields set in in and returns the router.
func (c *Client) UpdateRouter(ctx context.Context, projectID, routerID string, in UpdateRouterInput, opts ...RequestOption) (*Router, error) {
	p, err := routerPath(projectID, routerID, "")
	if err != nil {
		return nil, err
	}
	return c.routerCall(ctx, call{method: http.MethodPatch, path: p, in: in}, opts)
}

// DeleteRouter deletes a router. A router that still has linked breakers is
// not deleted: the error matches [ErrConflict].
func (c *Client) DeleteRouter(ctx context.Context, projectID, routerID string, opts ...RequestOption) error {
	p, err := routerPath(projectID, routerID, "")
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: p}, nil, opts)
}

// LinkBreakers links breakers to a router, so that the router's samples feed them.
func (c *Client) LinkBreakers(ctx context.Context, projectID, routerID string, breakerIDs []string, opts ...RequestOption) error {
	p, err := routerPath(projectID, routerID, "/breakers")
	if err != nil {
		return err
	}
	if len(breakerIDs) == 0 {
		return invalidArg("breaker IDs", "are empty")
	}
	for _, id := range breakerIDs {
		if id == "" {
			return invalidArg("breaker IDs", "contain an empty ID")
		}
	}
	in := struct {
		BreakerIDs []string `json:"breaker_ids"`
	}{breakerIDs}
	return c.do(ctx, call{method: http.MethodPost, path: p, in: in}, nil, opts)
}

// UnlinkBreaker removes a breaker from a router.
func (c *Client) UnlinkBreaker(ctx context.Context, projectID, routerID, breakerID string, opts ...RequestOption) error {
	p, err := buildPath("/v1/projects/%s/routers/%s/breakers/%s",
		arg("project ID", projectID), arg("router ID", routerID), arg("breaker ID", breakerID))
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: p}, nil, opts)
}

// UpdateRouterMetadata merges metadata into the router's metadata (keys
// present in metadata are set; others are kept).
func (c *Client) UpdateRouterMetadata(ctx context.Context, projectID, routerID string, metadata map[string]string, opts ...RequestOption) error {
	p, err := routerPath(projectID, routerID, "/metadata")
	if err != nil {
		return err
	}
	if metadata == nil {
		metadata = map[string]string{}
	}
	return c.do(ctx, call{method: http.MethodPatch, path: p, in: metadata}, nil, opts)
}

func routerPath(projectID, routerID, suffix string) (string, error) {
	return buildPath("/v1/projects/%s/routers/%s"+suffix, arg("project ID", projectID), arg("router ID", routerID))
}

// routerCall performs a call answered by a Router or {"router": Router}.
func (c *Client) routerCall(ctx context.Context, cl call, opts []RequestOption) (*Router, error) {
	data, err := c.send(ctx, cl, opts)
	if err != nil {
		return nil, err
	}
	return decodeWrapped[Router](c, cl, data, "router")
}
