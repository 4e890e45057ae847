package localserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

type metadataItem struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

func (s *Server) breakersMetadata(w http.ResponseWriter, r *http.Request, p *project) error {
	p.mu.Lock()
	bs := p.sortedBreakers()
	items := make([]metadataItem, len(bs))
	for i, b := range bs {
		items[i] = metadataItem{ID: b.ID, Name: b.spec.Name, Metadata: cloneStringMap(b.spec.Metadata)}
	}
	p.mu.Unlock()
	writeTagged(w, r, map[string]any{"breakers": items})
	return nil
}

func (s *Server) routersMetadata(w http.ResponseWriter, r *http.Request, p *project) error {
	p.mu.Lock()
	rs := p.sortedRouters()
	items := make([]metadataItem, len(rs))
	for i, rt := range rs {
		items[i] = metadataItem{ID: rt.ID, Name: rt.Name, Metadata: cloneStringMap(rt.Metadata)}
	}
	p.mu.Unlock()
	writeTagged(w, r, map[string]any{"routers": items})
	return nil
}

// writeTagged answers v with a strong ETag derived from its encoding, or 304
// when If-None-Match already names that tag.
func writeTagged(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	sum := sha256.Sum256(b)
	tag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeRawJSON(w, http.StatusOK, b)
}

// etagMatches reports whether an If-None-Match header names tag (weak
// comparison, as RFC 9110 prescribes for If-None-Match).
func etagMatches(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, p *project) error {
	p.mu.Lock()
	var open, closed, half int
	for _, b := range p.breakers {
		switch string(b.state) {
		case "open":
			open++
		case "half_open":
			half++
		default:
			closed++
		}
	}
	last := p.lastEvalMs
	p.mu.Unlock()
	resp := map[string]any{"open_count": open, "closed_count": closed, "half_open_count": half}
	if last != 0 {
		resp["last_eval_ms"] = last
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
