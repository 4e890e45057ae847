package admin

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// ChannelType is where a notification channel delivers.
type ChannelType string

// Notification channel types.
const (
	ChannelSlack     ChannelType = "slack"
	ChannelPagerDuty ChannelType = "pagerduty"
	ChannelEmail     ChannelType = "email"
	ChannelWebhook   ChannelType = "webhook"
)

// ChannelEvent is a breaker event a channel can be notified of.
type ChannelEvent string

// Notification events.
const (
	ChannelEventTrip    ChannelEvent = "trip"
	ChannelEventRecover ChannelEvent = "recover"
)

// NotificationChannel delivers breaker trips and recoveries.
type NotificationChannel struct {
	ID        string      `json:"id"`
	ProjectID string      `json:"project_id"`
	Name      string      `json:"name"`
	Channel   ChannelType `json:"channel"`
	// Config is channel specific, e.g. {"url": "https://…"} for a webhook.
	Config    map[string]any `json:"config,omitempty"`
	Events    []ChannelEvent `json:"events,omitempty"`
	Enabled   bool           `json:"enabled"`
	CreatedAt time.Time      `json:"created_at,omitzero"`
	UpdatedAt time.Time      `json:"updated_at,omitzero"`
}

// CreateNotificationChannelInput is the body of
// [Client.CreateNotificationChannel]. Enabled nil leaves the server's default.
type CreateNotificationChannelInput struct {
	Name    string         `json:"name"`
	Channel ChannelType    `json:"channel"`
	Config  map[string]any `json:"config,omitempty"`
	Events  []ChannelEvent `json:"events,omitempty"`
	Enabled *bool          `json:"enabled,omitempty"`
}

// UpdateNotificationChannelInput is the body of
// [Client.UpdateNotificationChannel]; nil fields are left unchanged, and a
// non-nil empty Config or Events is sent.
type UpdateNotificationChannelInput struct {
	Name    *string        `json:"name,omitempty"`
	Channel *ChannelType   `json:"channel,omitempty"`
	Config  map[string]any `json:"config,omitzero"`
	Events  []ChannelEvent `json:"events,omitzero"`
	Enabled *bool          `json:"enabled,omitempty"`
}

// NotificationChannelList is one page of [Client.ListNotificationChannels].
type NotificationChannelList struct {
	Items []NotificationChannel `json:"items"`
	// NextCursor is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListNotificationChannelsParams selects a page of channels.
type ListNotificationChannelsParams struct {
	Cursor string
	Limit  int
}

// ListNotificationChannels returns one page of the project's channels.
func (c *Client) ListNotificationChannels(ctx context.Context, projectID string, params ListNotificationChannelsParams, opts ...RequestOption) (*NotificationChannelList, error) {
	p, err := buildPath("/v1/projects/%s/notification-channels", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	pageQuery(q, params.Cursor, params.Limit)
	var out NotificationChannelList
	if err := c.do(ctx, call{method: http.MethodGet, path: p, query: q}, &out, opts); err != nil {
		return nil, err
	}
	if out.Items == nil {
		out.Items = []NotificationChannel{}
	}
	return &out, nil
}

// ListNotificationChannelsAll iterates over all of the project's channels,
// page by page, starting at params.Cursor. An error is yielded once and ends
// the iteration.
func (c *Client) ListNotificationChannelsAll(ctx context.Context, projectID string, params ListNotificationChannelsParams, opts ...RequestOption) iter.Seq2[NotificationChannel, error] {
	return paginate(ctx, params.Cursor, func(ctx context.Context, cursor string) ([]NotificationChannel, string, error) {
		page, err := c.ListNotificationChannels(ctx, projectID, ListNotificationChannelsParams{Cursor: cursor, Limit: params.Limit}, opts...)
		if err != nil {
			return nil, "", err
		}
		return page.Items, page.NextCursor, nil
	})
}

// CreateNotificationChannel creates a channel.
func (c *Client) CreateNotificationChannel(ctx context.Context, projectID string, in CreateNotificationChannelInput, opts ...RequestOption) (*NotificationChannel, error) {
	p, err := buildPath("/v1/projects/%s/notification-channels", arg("project ID", projectID))
	if err != nil {
		return nil, err
	}
	var out NotificationChannel
	if err := c.do(ctx, call{method: http.MethodPost, path: p, in: in}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetNotificationChannel returns one channel.
func (c *Client) GetNotificationChannel(ctx context.Context, projectID, channelID string, opts ...RequestOption) (*NotificationChannel, error) {
	p, err := channelPath(projectID, channelID, "")
	if err != nil {
		return nil, err
	}
	var out NotificationChannel
	if err := c.do(ctx, call{method: http.MethodGet, path: p}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateNotificationChannel changes the fields set in in and returns the channel.
func (c *Client) UpdateNotificationChannel(ctx context.Context, projectID, channelID string, in UpdateNotificationChannelInput, opts ...RequestOption) (*NotificationChannel, error) {
	p, err := channelPath(projectID, channelID, "")
	if err != nil {
		return nil, err
	}
	var out NotificationChannel
	if err := c.do(ctx, call{method: http.MethodPatch, path: p, in: in}, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteNotificationChannel deletes a channel.
func (c *Client) DeleteNotificationChannel(ctx context.Context, projectID, channelID string, opts ...RequestOption) error {
	p, err := channelPath(projectID, channelID, "")
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: p}, nil, opts)
}

// TestNotificationChannel asks the server to send a test notification
// through the channel.
func (c *Client) TestNotificationChannel(ctx context.Context, projectID, channelID string, opts ...RequestOption) error {
	p, err := channelPath(projectID, channelID, "/test")
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodPost, path: p}, nil, opts)
}

func channelPath(projectID, channelID, suffix string) (string, error) {
	return buildPath("/v1/projects/%s/notification-channels/%s"+suffix, arg("project ID", projectID), arg("channel ID", channelID))
}
