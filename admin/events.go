package admin

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Event is one recorded breaker state transition.
type Event struct {
	ID        string    `json:"id"`
	ProjectID string    `json:"project_id"`
	BreakerID string    `json:"breaker_id"`
	FromState State     `json:"from_state"`
	ToState   State     `json:"to_state"`
	Reason    string    `json:"reason,omitempty"`
	Timestamp time.Time `json:"timestamp"`
}

// EventList is one page of [Client.ListEvents].
type EventList struct {
	Events   []Event `json:"events"`
	Returned int     `json:"returned"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListEventsParams filters and pages [Client.ListEvents]; zero fields are not sent.
type ListEventsParams struct {
	BreakerID string
	// StartTime and EndTime bound the event timestamps (sent as RFC 3339).
	StartTime time.Time
	EndTime   time.Time
	Cursor    string
	Limit     int
}

// ListEvents returns one page of the project's state transitions.
func (c *Client) ListEvents(ctx context.Context, projectID string, params ListEventsParams, opts ...RequestOption) (*EventList, error) {
	p, err := buildPath("/v1/projects/%s/events", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if params.BreakerID != "" {
		q.Set("breaker_id", params.BreakerID)
	}
	if !params.StartTime.IsZero() {
		q.Set("start_time", params.StartTime.UTC().Format(time.RFC3339Nano))
	}
	if !params.EndTime.IsZero() {
		q.Set("end_time", params.EndTime.UTC().Format(time.RFC3339Nano))
	}
	pageQuery(q, params.Cursor, params.Limit)
	var out EventList
	if err := c.do(ctx, call{method: http.MethodGet, path: p, query: q}, &out, opts); err != nil {
		return nil, err
	}
	if out.Events == nil {
		out.Events = []Event{}
	}
	return &out, nil
}

// ListEventsAll iterates over all matching events, page by page, starting at
// params.Cursor. An error is yielded once and ends the iteration.
func (c *Client) ListEventsAll(ctx context.Context, projectID string, params ListEventsParams, opts ...RequestOption) iter.Seq2[Event, error] {
	return paginate(ctx, params.Cursor, func(ctx context.Context, cursor string) ([]Event, string, error) {
		page := params
		page.Cursor = cursor
		list, err := c.ListEvents(ctx, projectID, page, opts...)
		if err != nil {
			return nil, "", err
		}
		return list.Events, list.NextCursor, nil
	})
}
