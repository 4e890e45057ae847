package localserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

type breakerJSON struct {
	ID        string   `json:"id"`
	RouterIDs []string `json:"router_ids"`
	// RouterID is the first linked router ("" when none), for older
	// clients that read only router_id.
	RouterID string `json:"router_id"`
	breakerSpec
	InsertedAt string `json:"inserted_at"`
	UpdatedAt  string `json:"updated_at"`
}

// breakerView renders b; the project's mu is held.
func breakerView(b *breaker) breakerJSON {
	ids := b.routerIDs
	if ids == nil {
		ids = []string{}
	}
	first := ""
	if len(ids) > 0 {
		first = ids[0]
	}
	return breakerJSON{ID: b.ID, RouterIDs: slices.Clone(ids), RouterID: first, breakerSpec: b.spec,
		InsertedAt: fmtTime(b.InsertedAt), UpdatedAt: fmtTime(b.UpdatedAt)}
}

// writeBreaker answers with the wrapped or the bare shape.
func (s *Server) writeBreaker(w http.ResponseWriter, status int, v breakerJSON) {
	if s.cfg.BareResponses {
		writeJSON(w, status, v)
		return
	}
	writeJSON(w, status, map[string]any{"breaker": v, "router_ids": v.RouterIDs})
}

// configHash identifies the configuration of a set of breakers.
func configHash(bs []*breaker) string {
	h := sha256.New()
	for _, b := range bs {
		v, _ := json.Marshal(breakerView(b).breakerSpec)
		fmt.Fprintf(h, "%s\x00%q\x00%s\n", b.ID, b.routerIDs, v)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

type breakerStateJSON struct {
	BreakerID string   `json:"breaker_id"`
	Name      string   `json:"name"`
	State     string   `json:"state"`
	AllowRate *float64 `json:"allow_rate"`
	UpdatedAt string   `json:"updated_at"`
}

func stateView(b *breaker) breakerStateJSON {
	rate := b.allowRate
	return breakerStateJSON{BreakerID: b.ID, Name: b.spec.Name, State: string(b.state), AllowRate: &rate, UpdatedAt: fmtTime(b.stateAt)}
}
