package tripswitch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
)

// Status is the project's breaker summary from the server.
type Status struct {
	OpenCount   int
	ClosedCount int
	LastEval    time.Time // zero when the server did not say
}

// Status asks the server for the project's breaker summary. It needs a
// project key.
func (c *Client) Status(ctx context.Context) (Status, error) {
	if c.closed.Load() {
		return Status{}, ErrClosed
	}
	if c.cfg.projectKey == "" {
		return Status{}, optionError("Status", "needs WithProjectKey")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/status", nil)
	if err != nil {
		return Status{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Status{}, fmt.Errorf("tripswitch: %w", transportError("GET", "/status", err))
	}
	defer httpx.DrainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("tripswitch: GET /status: unexpected status %s", resp.Status)
	}
	var body struct {
		OpenCount   int    `json:"open_count"`
		ClosedCount int    `json:"closed_count"`
		LastEvalMs  *int64 `json:"last_eval_ms"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&body); err != nil {
		return Status{}, fmt.Errorf("tripswitch: GET /status: decoding response: %w", err)
	}
	s := Status{OpenCount: body.OpenCount, ClosedCount: body.ClosedCount}
	if body.LastEvalMs != nil {
		s.LastEval = time.UnixMilli(*body.LastEvalMs)
	}
	return s, nil
}
