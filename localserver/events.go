package localserver

import (
	"net/http"
	"time"
)

type eventJSON struct {
	ID          string  `json:"id"`
	ProjectID   string  `json:"project_id"`
	BreakerID   string  `json:"breaker_id"`
	BreakerName string  `json:"breaker_name"`
	FromState   string  `json:"from_state"`
	ToState     string  `json:"to_state"`
	AllowRate   float64 `json:"allow_rate"`
	Reason      string  `json:"reason,omitempty"`
	Timestamp   string  `json:"timestamp"`
}

func eventView(p *project, e *event) eventJSON {
	return eventJSON{ID: e.ID, ProjectID: p.ID, BreakerID: e.BreakerID, BreakerName: e.BreakerName,
		FromState: e.From, ToState: e.To, AllowRate: e.AllowRate, Reason: e.Reason, Timestamp: fmtTime(e.Timestamp)}
}

func parseTimeParam(field, v string) (time.Time, *apiError) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, &apiError{Status: http.StatusBadRequest, Code: codeBadRequest, Field: field,
			Message: field + ": must be an RFC 3339 time such as 2026-01-02T15:04:05Z"}
	}
	return t, nil
}

// listEvents lists state transitions oldest first. start_time is inclusive,
// end_time exclusive.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, p *project) error {
	q := r.URL.Query()
	pg, perr := parsePage(q)
	if perr != nil {
		return perr
	}
	start, aerr := parseTimeParam("start_time", q.Get("start_time"))
	if aerr != nil {
		return aerr
	}
	end, aerr := parseTimeParam("end_time", q.Get("end_time"))
	if aerr != nil {
		return aerr
	}
	bid := q.Get("breaker_id")
	p.mu.Lock()
	if b := p.byName[bid]; bid != "" && p.breakers[bid] == nil && b != nil {
		bid = b.ID // a breaker name is accepted too
	}
	sel := make([]*event, 0, min(len(p.events), 1024))
	for _, e := range p.events {
		if bid != "" && e.BreakerID != bid {
			continue
		}
		if !start.IsZero() && e.Timestamp.Before(start) {
			continue
		}
		if !end.IsZero() && !e.Timestamp.Before(end) {
			continue
		}
		sel = append(sel, e)
	}
	items, next := paginate(sel, func(e *event) uint64 { return e.seq }, pg)
	out := make([]eventJSON, len(items))
	for i, e := range items {
		out[i] = eventView(p, e)
	}
	p.mu.Unlock()
	resp := map[string]any{"events": out, "returned": len(out)}
	if next != "" {
		resp["next_cursor"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
