package localserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
)

var (
	channelKinds  = []string{"slack", "pagerduty", "email", "webhook"}
	channelEvents = []string{"trip", "recover"}
)

const maxChannelConfig = 16 << 10

type channelJSON struct {
	ID        string          `json:"id"`
	ProjectID string          `json:"project_id"`
	Name      string          `json:"name"`
	Channel   string          `json:"channel"`
	Config    json.RawMessage `json:"config"`
	Events    []string        `json:"events"`
	Enabled   bool            `json:"enabled"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

func channelView(p *project, c *channel) channelJSON {
	cfg := c.Config
	if len(cfg) == 0 {
		cfg = json.RawMessage("{}")
	}
	ev := c.Events
	if ev == nil {
		ev = []string{}
	}
	return channelJSON{ID: c.ID, ProjectID: p.ID, Name: c.Name, Channel: c.Channel, Config: cfg,
		Events: slices.Clone(ev), Enabled: c.Enabled, CreatedAt: fmtTime(c.CreatedAt), UpdatedAt: fmtTime(c.UpdatedAt)}
}

type channelInput struct {
	Name    *string         `json:"name"`
	Channel *string         `json:"channel"`
	Config  json.RawMessage `json:"config"`
	Events  *[]string       `json:"events"`
	Enabled *bool           `json:"enabled"`
}

func (in channelInput) apply(c channel) (channel, *apiError) {
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Channel != nil {
		c.Channel = *in.Channel
	}
	if in.Config != nil {
		cfg := bytes.TrimSpace(in.Config)
		if bytes.Equal(cfg, []byte("null")) {
			c.Config = nil
		} else {
			if len(cfg) == 0 || cfg[0] != '{' {
				return c, fieldErr("config", "must be a JSON object")
			}
			if len(cfg) > maxChannelConfig {
				return c, fieldErr("config", "must be at most %d bytes", maxChannelConfig)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, cfg); err != nil {
				return c, fieldErr("config", "must be a JSON object")
			}
			c.Config = buf.Bytes()
		}
	}
	if in.Events != nil {
		c.Events = slices.Clone(*in.Events)
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	if err := checkName("name", c.Name); err != nil {
		return c, err
	}
	if !slices.Contains(channelKinds, c.Channel) {
		return c, fieldErr("channel", "must be one of slack, pagerduty, email, webhook (got %q)", truncate(c.Channel, 40))
	}
	if len(c.Events) > len(channelEvents) {
		return c, fieldErr("events", "must list each of trip, recover at most once")
	}
	for _, e := range c.Events {
		if !slices.Contains(channelEvents, e) {
			return c, fieldErr("events", "must contain only trip and recover (got %q)", truncate(e, 40))
		}
	}
	return c, nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request, p *project) error {
	pg, perr := parsePage(r.URL.Query())
	if perr != nil {
		return perr
	}
	p.mu.Lock()
	items, next := paginate(p.sortedChannels(), func(c *channel) uint64 { return c.seq }, pg)
	out := make([]channelJSON, len(items))
	for i, c := range items {
		out[i] = channelView(p, c)
	}
	p.mu.Unlock()
	resp := map[string]any{"items": out}
	if next != "" {
		resp["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) createChannel(w http.ResponseWriter, r *http.Request, p *project) error {
	var in channelInput
	if err := decodeJSON(w, r, &in, false); err != nil {
		return err
	}
	c, aerr := in.apply(channel{Enabled: true, Events: []string{"trip", "recover"}})
	if aerr != nil {
		return aerr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return notFound("project", p.ID)
	}
	now := s.now()
	c.seq = s.nextSeq()
	c.ID = newID("nch_")
	c.CreatedAt, c.UpdatedAt = now, now
	p.channels[c.ID] = &c
	s.markDirty()
	writeJSON(w, http.StatusCreated, channelView(p, &c))
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("channel_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.channels[id]
	if c == nil {
		return notFound("notification channel", id)
	}
	writeJSON(w, http.StatusOK, channelView(p, c))
	return nil
}

func (s *Server) updateChannel(w http.ResponseWriter, r *http.Request, p *project) error {
	var in channelInput
	if err := decodeJSON(w, r, &in, true); err != nil {
		return err
	}
	id := r.PathValue("channel_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.channels[id]
	if c == nil {
		return notFound("notification channel", id)
	}
	nc, aerr := in.apply(*c)
	if aerr != nil {
		return aerr
	}
	nc.UpdatedAt = s.now()
	*c = nc
	s.markDirty()
	writeJSON(w, http.StatusOK, channelView(p, c))
	return nil
}

func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("channel_id")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.channels[id] == nil {
		return notFound("notification channel", id)
	}
	delete(p.channels, id)
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testChannel validates the channel and reports success without sending
// anything: the local server never delivers notifications.
func (s *Server) testChannel(w http.ResponseWriter, r *http.Request, p *project) error {
	id := r.PathValue("channel_id")
	p.mu.Lock()
	c := p.channels[id]
	p.mu.Unlock()
	if c == nil {
		return notFound("notification channel", id)
	}
	s.log.Info("notification channel test", "project_id", p.ID, "channel_id", id)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "delivered": false,
		"message": "test accepted; the local server does not deliver notifications"})
	return nil
}
