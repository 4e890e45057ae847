package tripswitch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/httpx"
)

// BreakerMeta is a breaker's entry in the metadata cache.
type BreakerMeta struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// RouterMeta is a router's entry in the metadata cache.
type RouterMeta struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// metadataCache holds immutable snapshots; selectors read them lock-free.
type metadataCache struct {
	breakers atomic.Pointer[[]BreakerMeta]
	routers  atomic.Pointer[[]RouterMeta]
	etagB    string // owned by the sync goroutine
	etagR    string
}

// BreakerMetadata returns a copy of the cached breaker metadata, or
// ErrMetadataUnavailable before the cache was first filled.
func (c *Client) BreakerMetadata() ([]BreakerMeta, error) {
	return cloneMeta(c.meta.breakers.Load())
}

// RouterMetadata returns a copy of the cached router metadata, or
// ErrMetadataUnavailable before the cache was first filled.
func (c *Client) RouterMetadata() ([]RouterMeta, error) {
	return cloneMeta(c.meta.routers.Load())
}

func (m BreakerMeta) clone() BreakerMeta { m.Metadata = maps.Clone(m.Metadata); return m }
func (m RouterMeta) clone() RouterMeta   { m.Metadata = maps.Clone(m.Metadata); return m }

// cloneMeta deep-copies a metadata snapshot (nil: not loaded yet).
func cloneMeta[M interface{ clone() M }](p *[]M) ([]M, error) {
	if p == nil {
		return nil, ErrMetadataUnavailable
	}
	out := make([]M, len(*p))
	for i, m := range *p {
		out[i] = m.clone()
	}
	return out, nil
}

func (c *Client) selectBreakers(fn func([]BreakerMeta) []string) (names []string, err error) {
	p := c.meta.breakers.Load()
	if p == nil {
		return nil, ErrMetadataUnavailable
	}
	c.safely("breaker selector", func() { names = fn(*p) })
	return names, nil
}

func (c *Client) selectRouter(fn func([]RouterMeta) string) (id string, err error) {
	p := c.meta.routers.Load()
	if p == nil {
		return "", ErrMetadataUnavailable
	}
	c.safely("router selector", func() { id = fn(*p) })
	return id, nil
}

// errStopPolling reports a metadata answer (401/403) after which polling
// stops.
var errStopPolling = errors.New("metadata not readable with this key")

// syncMetadata polls breaker and router metadata until ctx ends or the
// server refuses the key.
func (c *Client) syncMetadata(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.refreshMetadata(ctx); err != nil {
			if errors.Is(err, errStopPolling) {
				c.logger.Error("tripswitch: metadata sync stopped", "error", err)
				return
			}
			if ctx.Err() != nil {
				return
			}
			c.logEvery(slog.LevelWarn, "metadata-sync-failed", "tripswitch: metadata sync failed", "error", err)
		}
		t.Reset(c.cfg.metadataInterval)
	}
}

func (c *Client) refreshMetadata(ctx context.Context) error {
	started := c.now()
	var bs struct {
		Breakers []BreakerMeta `json:"breakers"`
	}
	changed, etag, err := c.getMetadata(ctx, "/breakers/metadata", c.meta.etagB, &bs)
	if err != nil {
		return err
	}
	if changed {
		c.meta.etagB = etag
		list := bs.Breakers
		if list == nil {
			list = []BreakerMeta{}
		}
		c.meta.breakers.Store(&list)
	}
	// Breakers deleted on the server leave the state cache. This runs on
	// every poll, 304s included: a state event can arrive after the list
	// was read, and a newer event than this request keeps its breaker.
	if list := c.meta.breakers.Load(); list != nil {
		keep := make(map[string]bool, len(*list))
		for _, b := range *list {
			keep[b.Name] = true
		}
		c.states.forget(keep, started)
		c.syncIfNoBreakers(*list)
	}
	var rs struct {
		Routers []RouterMeta `json:"routers"`
	}
	changed, etag, err = c.getMetadata(ctx, "/routers/metadata", c.meta.etagR, &rs)
	if err != nil {
		return err
	}
	if changed {
		c.meta.etagR = etag
		list := rs.Routers
		if list == nil {
			list = []RouterMeta{}
		}
		c.meta.routers.Store(&list)
	}
	c.warnUnknownNames()
	return nil
}

func (c *Client) getMetadata(ctx context.Context, path, etag string, into any) (changed bool, newTag string, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return false, "", err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, "", transportError("GET", path, err)
	}
	defer httpx.DrainClose(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return false, etag, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return false, "", fmt.Errorf("GET %s: %s: %w", path, resp.Status, errStopPolling)
	case resp.StatusCode != http.StatusOK:
		return false, "", fmt.Errorf("GET %s: unexpected status %s", path, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(into); err != nil {
		return false, "", fmt.Errorf("GET %s: decoding response: %w", path, err)
	}
	return true, resp.Header.Get("ETag"), nil
}
