package admin

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Kind is a breaker's aggregation over its window.
type Kind string

// Breaker kinds.
const (
	KindErrorRate           Kind = "error_rate"
	KindAvg                 Kind = "avg"
	KindP95                 Kind = "p95"
	KindMax                 Kind = "max"
	KindMin                 Kind = "min"
	KindSum                 Kind = "sum"
	KindStddev              Kind = "stddev"
	KindCount               Kind = "count"
	KindPercentile          Kind = "percentile" // takes KindParams{"percentile": 99}
	KindConsecutiveFailures Kind = "consecutive_failures"
	KindDelta               Kind = "delta"
)

// Op compares a breaker's aggregate with its threshold; the breaker trips
// when "aggregate Op threshold" holds.
type Op string

// Comparison operators.
const (
	OpGt  Op = "gt"
	OpLt  Op = "lt"
	OpGte Op = "gte"
	OpLte Op = "lte"
)

// State is a breaker state.
type State string

// Breaker states.
const (
	StateClosed   State = "closed"
	StateOpen     State = "open"
	StateHalfOpen State = "half_open"
)

// Policy decides a half-open breaker's outcome when its window has too few
// samples to judge.
type Policy string

// Half-open indeterminate policies.
const (
	PolicyOptimistic   Policy = "optimistic"
	PolicyConservative Policy = "conservative"
	PolicyPessimistic  Policy = "pessimistic"
)

// Breaker is a circuit breaker's configuration. Durations are integers of
// milliseconds, as on the wire (fields ending in Ms).
type Breaker struct {
	ID                          string            `json:"id"`
	RouterIDs                   []string          `json:"router_ids,omitempty"`
	Name                        string            `json:"name"`
	Metric                      string            `json:"metric"`
	Kind                        Kind              `json:"kind"`
	KindParams                  map[string]any    `json:"kind_params,omitempty"`
	Op                          Op                `json:"op"`
	Threshold                   float64           `json:"threshold"`
	WindowMs                    int64             `json:"window_ms"`
	MinCount                    int64             `json:"min_count"`
	MinStateDurationMs          int64             `json:"min_state_duration_ms"`
	CooldownMs                  int64             `json:"cooldown_ms"`
	EvalIntervalMs              int64             `json:"eval_interval_ms"`
	HalfOpenConfirmationMs      int64             `json:"half_open_confirmation_ms"`
	HalfOpenBackoffEnabled      bool              `json:"half_open_backoff_enabled"`
	HalfOpenBackoffCapMs        int64             `json:"half_open_backoff_cap_ms"`
	HalfOpenIndeterminatePolicy Policy            `json:"half_open_indeterminate_policy,omitempty"`
	RecoveryWindowMs            int64             `json:"recovery_window_ms"`
	RecoveryAllowRateRampSteps  int               `json:"recovery_allow_rate_ramp_steps"`
	Actions                     json.RawMessage   `json:"actions,omitempty"`
	Metadata                    map[string]string `json:"metadata,omitempty"`
}

// CreateBreakerInput is one breaker of [Client.CreateBreaker] and
// [Client.SyncBreakers]. Name, Metric, Kind, Op and Threshold are always sent;
// other zero fields are omitted so that the server's defaults apply.
// Durations are milliseconds.
type CreateBreakerInput struct {
	Name                        string            `json:"name"`
	Metric                      string            `json:"metric"`
	Kind                        Kind              `json:"kind"`
	KindParams                  map[string]any    `json:"kind_params,omitempty"`
	Op                          Op                `json:"op"`
	Threshold                   float64           `json:"threshold"`
	WindowMs                    int64             `json:"window_ms,omitempty"`
	MinCount                    int64             `json:"min_count,omitempty"`
	MinStateDurationMs          int64             `json:"min_state_duration_ms,omitempty"`
	CooldownMs                  int64             `json:"cooldown_ms,omitempty"`
	EvalIntervalMs              int64             `json:"eval_interval_ms,omitempty"`
	HalfOpenConfirmationMs      int64             `json:"half_open_confirmation_ms,omitempty"`
	HalfOpenBackoffEnabled      *bool             `json:"half_open_backoff_enabled,omitempty"`
	HalfOpenBackoffCapMs        int64             `json:"half_open_backoff_cap_ms,omitempty"`
	HalfOpenIndeterminatePolicy Policy            `json:"half_open_indeterminate_policy,omitempty"`
	RecoveryWindowMs            int64             `json:"recovery_window_ms,omitempty"`
	RecoveryAllowRateRampSteps  int               `json:"recovery_allow_rate_ramp_steps,omitempty"`
	Actions                     json.RawMessage   `json:"actions,omitempty"`
	Metadata                    map[string]string `json:"metadata,omitempty"`
	// RouterIDs links the new breaker to these routers.
	RouterIDs []string `json:"router_ids,omitempty"`
}

// UpdateBreakerInput is the body of [Client.UpdateBreaker]. Nil fields are
// left unchanged, so a pointer to a zero value (admin.Ptr(0.0)) sets zero. A
// non-nil empty map or slice is sent and replaces the current value.
type UpdateBreakerInput struct {
	Name                        *string           `json:"name,omitempty"`
	Metric                      *string           `json:"metric,omitempty"`
	Kind                        *Kind             `json:"kind,omitempty"`
	KindParams                  map[string]any    `json:"kind_params,omitzero"`
	Op                          *Op               `json:"op,omitempty"`
	Threshold                   *float64          `json:"threshold,omitempty"`
	WindowMs                    *int64            `json:"window_ms,omitempty"`
	MinCount                    *int64            `json:"min_count,omitempty"`
	MinStateDurationMs          *int64            `json:"min_state_duration_ms,omitempty"`
	CooldownMs                  *int64            `json:"cooldown_ms,omitempty"`
	EvalIntervalMs              *int64            `json:"eval_interval_ms,omitempty"`
	HalfOpenConfirmationMs      *int64            `json:"half_open_confirmation_ms,omitempty"`
	HalfOpenBackoffEnabled      *bool             `json:"half_open_backoff_enabled,omitempty"`
	HalfOpenBackoffCapMs        *int64            `json:"half_open_backoff_cap_ms,omitempty"`
	HalfOpenIndeterminatePolicy *Policy           `json:"half_open_indeterminate_policy,omitempty"`
	RecoveryWindowMs            *int64            `json:"recovery_window_ms,omitempty"`
	RecoveryAllowRateRampSteps  *int              `json:"recovery_allow_rate_ramp_steps,omitempty"`
	Actions                     json.RawMessage   `json:"actions,omitzero"`
	Metadata                    map[string]string `json:"metadata,omitzero"`
	RouterIDs                   []string          `json:"router_ids,omitzero"`
}

// BreakerList is one page of [Client.ListBreakers].
type BreakerList struct {
	Breakers []Breaker `json:"breakers"`
	Count    int       `json:"count"`
	// Hash and UpdatedAt identify the configuration version, when the server sends them.
	Hash      string    `json:"hash,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListBreakersParams selects a page of breakers; the zero value asks for the
// first page of the server's default size.
type ListBreakersParams struct {
	Cursor string
	Limit  int
}

// BreakerState is a breaker's current state.
type BreakerState struct {
	BreakerID string `json:"breaker_id"`
	State     State  `json:"state"`
	// AllowRate is the share of calls let through: 1 closed, 0 open, in
	// between while half open (a null from the server reads as 0).
	AllowRate float64   `json:"allow_rate"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// BatchStateInput selects breakers for [Client.BatchBreakerStates]: the listed
// IDs, the breakers of a router, or (both empty) every breaker of the project.
type BatchStateInput struct {
	BreakerIDs []string `json:"breaker_ids,omitempty"`
	RouterID   string   `json:"router_id,omitempty"`
}

// ListBreakers returns one page of the project's breakers.
func (c *Client) ListBreakers(ctx context.Context, projectID string, params ListBreakersParams, opts ...RequestOption) (*BreakerList, error) {
	p, err := buildPath("/v1/projects/%s/breakers", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	pageQuery(q, params.Cursor, params.Limit)
	var out BreakerList
	if err := c.do(ctx, call{method: http.MethodGet, path: p, query: q}, &out, opts); err != nil {
		return nil, err
	}
	if out.Breakers == nil {
		out.Breakers = []Breaker{}
	}
	return &out, nil
}

// ListBreakersAll iterates over all of the project's breakers, page by page,
// starting at params.Cursor. An error is yielded once and ends the iteration.
func (c *Client) ListBreakersAll(ctx context.Context, projectID string, params ListBreakersParams, opts ...RequestOption) iter.Seq2[Breaker, error] {
	return paginate(ctx, params.Cursor, func(ctx context.Context, cursor string) ([]Breaker, string, error) {
		page, err := c.ListBreakers(ctx, projectID, ListBreakersParams{Cursor: cursor, Limit: params.Limit}, opts...)
		if err != nil {
			return nil, "", err
		}
		return page.Breakers, page.NextCursor, nil
	})
}

// CreateBreaker creates a breaker.
func (c *Client) CreateBreaker(ctx context.Context, projectID string, in CreateBreakerInput, opts ...RequestOption) (*Breaker, error) {
	p, err := buildPath("/v1/projects/%s/breakers", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	return c.breakerCall(ctx, call{method: http.MethodPost, path: p, in: in}, opts)
}

// SyncBreakers replaces all of the project's breakers with in and returns
// the resulting set.
//
// It deletes every breaker of the project that in does not list, including
// breakers created by other tools, teams or services that share the
// project, and with them their state and router links. Call it only when in
// is the project's complete set of breakers. To create or update some
// breakers and leave the others alone, use [Client.EnsureBreaker], which
// never deletes.
func (c *Client) SyncBreakers(ctx context.Context, projectID string, in []CreateBreakerInput, opts ...RequestOption) ([]Breaker, error) {
	p, err := buildPath("/v1/projects/%s/breakers", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	if in == nil {
		in = []CreateBreakerInput{}
	}
	cl := call{method: http.MethodPut, path: p, in: struct {
		Breakers []CreateBreakerInput `json:"breakers"`
	}{in}}
	data, err := c.send(ctx, cl, opts)
	if err != nil {
		return nil, err
	}
	return decodeList[Breaker](c, cl, data, "breakers")
}

// GetBreaker returns one breaker.
func (c *Client) GetBreaker(ctx context.Context, projectID, breakerID string, opts ...RequestOption) (*Breaker, error) {
	p, err := breakerPath(projectID, breakerID, "")
	if err != nil {
		return nil, err
	}
	return c.breakerCall(ctx, call{method: http.MethodGet, path: p}, opts)
}

// UpdateBreaker changes the fields set in in and returns the breaker.
func (c *Client) UpdateBreaker(ctx context.Context, projectID, breakerID string, in UpdateBreakerInput, opts ...RequestOption) (*Breaker, error) {
	p, err := breakerPath(projectID, breakerID, "")
	if err != nil {
		return nil, err
	}
	return c.breakerCall(ctx, call{method: http.MethodPatch, path: p, in: in}, opts)
}

// DeleteBreaker deletes a breaker.
func (c *Client) DeleteBreaker(ctx context.Context, projectID, breakerID string, opts ...RequestOption) error {
	p, err := breakerPath(projectID, breakerID, "")
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: p}, nil, opts)
}

// GetBreakerState returns a breaker's current state.
func (c *Client) GetBreakerState(ctx context.Context, projectID, breakerID string, opts ...RequestOption) (*BreakerState, error) {
	p, err := breakerPath(projectID, breakerID, "/state")
	if err != nil {
		return nil, err
	}
	var out BreakerState
	if err := c.do(ctx, call{method: http.MethodGet, path: p}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// BatchBreakerStates returns the states of the breakers selected by in.
func (c *Client) BatchBreakerStates(ctx context.Context, projectID string, in BatchStateInput, opts ...RequestOption) ([]BreakerState, error) {
	p, err := buildPath("/v1/projects/%s/breakers/state:batch", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	cl := call{method: http.MethodPost, path: p, in: in}
	data, err := c.send(ctx, cl, opts)
	if err != nil {
		return nil, err
	}
	return decodeList[BreakerState](c, cl, data, "states")
}

// UpdateBreakerMetadata merges metadata into the breaker's metadata (keys
// present in metadata are set; others are kept).
func (c *Client) UpdateBreakerMetadata(ctx context.Context, projectID, breakerID string, metadata map[string]string, opts ...RequestOption) error {
	p, err := breakerPath(projectID, breakerID, "/metadata")
	if err != nil {
		return err
	}
	if metadata == nil {
		metadata = map[string]string{}
	}
	return c.do(ctx, call{method: http.MethodPatch, path: p, in: metadata}, nil, opts)
}

func breakerPath(projectID, breakerID, suffix string) (string, error) {
	return buildPath("/v1/projects/%s/breakers/%s"+suffix, arg("project ID", projectID), arg("breaker ID", breakerID))
}

// breakerCall performs a call answered by {"breaker": Breaker, "router_ids"}
// or by a bare Breaker.
func (c *Client) breakerCall(ctx context.Context, cl call, opts []RequestOption) (*Breaker, error) {
	data, err := c.send(ctx, cl, opts)
	if err != nil {
		return nil, err
	}
	b, err := decodeWrapped[Breaker](c, cl, data, "breaker")
	if err != nil {
		return nil, err
	}
	if len(b.RouterIDs) == 0 {
		var top struct {
			RouterIDs []string `json:"router_ids"`
		}
		if json.Unmarshal(data, &top) == nil && len(top.RouterIDs) > 0 {
			b.RouterIDs = top.RouterIDs
		}
	}
	return b, nil
}
