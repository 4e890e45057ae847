package localserver

import (
	"cmp"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// The console is a web page served at "/" that shows a project's breakers
// live and drives them through the local extension endpoints. It is plain
// HTML, CSS and JavaScript embedded in the binary: no build step, nothing
// fetched from elsewhere, so it works offline.
//
//go:embed console
var consoleFiles embed.FS

// consoleAssets is the console folder; only the files listed in
// consoleTypes are served.
var consoleAssets, _ = fs.Sub(consoleFiles, "console")

var consoleTypes = map[string]string{
	"index.html":  "text/html; charset=utf-8",
	"console.js":  "text/javascript; charset=utf-8",
	"console.css": "text/css; charset=utf-8",
}

// consoleCSP allows only the console's own script, style and API: no inline
// script or style, no other origin, no framing, no form submission (the key
// form is handled by the script; were the script missing, the key could not
// end up in a URL).
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const (
	// consoleTick is how often a console stream sends aggregates and rates;
	// state changes are sent as they happen.
	consoleTick = time.Second
	// consoleRateWindow is the span over which samples per second are
	// counted.
	consoleRateWindow = 5 * time.Second
	// consoleEvents is how many of the most recent events a snapshot holds.
	consoleEvents = 200
	// consoleHistoryPoints is how many points of aggregate history a
	// snapshot holds per breaker.
	consoleHistoryPoints = 120
)

// mountConsole adds the page, its assets and its live stream.
func (s *Server) mountConsole(mux *http.ServeMux) {
	mux.Handle("/{$}", localExtension(methods{http.MethodGet: consoleFile("index.html")}))
	mux.Handle("/console/{file}", localExtension(methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		consoleFile(r.PathValue("file"))(w, r)
	}}))
	mux.Handle("/console/api/projects/{project_id}/live", localExtension(methods{http.MethodGet: s.adminProject(s.consoleLive)}))
}

// consoleFile serves one embedded file with the console's security headers.
func consoleFile(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctype, ok := consoleTypes[name]
		var data []byte
		if ok {
			data, _ = fs.ReadFile(consoleAssets, name)
		}
		if data == nil {
			writeError(w, errf(http.StatusNotFound, codeNotFound, "no such console file: %s", truncate(name, 80)))
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(data)
		}
	}
}

// consoleBreaker is a breaker as the console shows it.
type consoleBreaker struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Metric     string   `json:"metric"`
	Kind       string   `json:"kind"`
	Percentile float64  `json:"percentile,omitempty"`
	Op         string   `json:"op"`
	Threshold  float64  `json:"threshold"`
	WindowMs   int64    `json:"window_ms"`
	MinCount   int64    `json:"min_count"`
	RouterIDs  []string `json:"router_ids"`
	State      string   `json:"state"`
	AllowRate  float64  `json:"allow_rate"`
	Held       bool     `json:"held"`
	StateAt    string   `json:"state_at"`
}

type consoleRouter struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// consolePoint is one aggregate of a breaker: [unix ms, value, samples].
type consolePoint [3]float64

type consoleSnapshot struct {
	ProjectID    string                    `json:"project_id"`
	ProjectName  string                    `json:"project_name"`
	NowMs        int64                     `json:"now_ms"`
	RateWindowMs int64                     `json:"rate_window_ms"`
	Breakers     []consoleBreaker          `json:"breakers"`
	Routers      []consoleRouter           `json:"routers"`
	Events       []eventJSON               `json:"events"` // newest first
	History      map[string][]consolePoint `json:"history"`
}

// consoleRate is the samples per second of one router and metric.
type consoleRate struct {
	RouterID  string  `json:"router_id"`
	Metric    string  `json:"metric"`
	PerSecond float64 `json:"per_second"`
}

type consoleMetrics struct {
	NowMs  int64                   `json:"now_ms"`
	Points map[string]consolePoint `json:"points"` // by breaker ID
	Held   []string                `json:"held"`   // IDs of breakers held by state:force
	Rates  []consoleRate           `json:"rates"`
}

// consoleStamp changes whenever the project's breakers or routers change in
// a way the console shows.
type consoleStamp struct {
	config            time.Time
	breakers, routers int
	routerAt          time.Time
}

func (p *project) consoleStampLocked() consoleStamp {
	st := consoleStamp{config: p.configChangedAt, breakers: len(p.breakers), routers: len(p.routers)}
	for _, rt := range p.routers {
		if rt.UpdatedAt.After(st.routerAt) {
			st.routerAt = rt.UpdatedAt
		}
	}
	return st
}

// consoleLive serves GET /console/api/projects/{project_id}/live with the
// admin key: a server-sent event stream of one "snapshot" event (again
// whenever breakers or routers change), a "state" event per state change as
// the project's state streams carry it, an "events" event with the new
// transitions after each change, and a "metrics" event every second.
//
// The page reads it with fetch() and parses the events itself, because
// EventSource cannot send an Authorization header and the admin key must
// never travel in a URL (URLs end up in logs, proxies and browser history).
// A short-lived ticket in the URL would also work, but would be one more
// credential to issue, expire and keep out of logs; fetch() needs none. The
// runtime state stream takes a project key, which the page does not hold;
// this stream takes the admin key, like the rest of the page's calls.
func (s *Server) consoleLive(w http.ResponseWriter, r *http.Request, p *project) error {
	if s.isClosing() {
		return errf(http.StatusServiceUnavailable, "unavailable", "server is shutting down")
	}
	sub := newSubscriber(nil) // admin-key stream: ended with the project, not with a project key
	if _, ok := p.subscribe(sub); !ok {
		return notFound("project", p.ID)
	}
	defer p.unsubscribe(sub)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf []byte
	send := func(event string, v any) {
		data, _ := json.Marshal(v)
		buf = append(buf, "event: "...)
		buf = append(buf, event...)
		buf = append(buf, "\ndata: "...)
		buf = append(buf, data...)
		buf = append(buf, '\n', '\n')
	}
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := w.Write(buf)
		buf = buf[:0]
		return err == nil && rc.Flush() == nil
	}

	snap, lastSeq, stamp := s.consoleSnapshot(p)
	send("snapshot", snap)
	if !flush() {
		return nil
	}
	tick := time.NewTicker(consoleTick)
	defer tick.Stop()
	for {
		select {
		case msg := <-sub.ch:
			for more := true; more; {
				buf = append(buf, "event: state\n"...)
				buf = append(buf, msg...)
				select {
				case msg = <-sub.ch:
				default:
					more = false
				}
			}
			if evs := p.consoleEventsSince(&lastSeq); len(evs) > 0 {
				send("events", evs)
			}
		case <-tick.C:
			if st := p.consoleStamp(); st != stamp {
				snap, lastSeq, stamp = s.consoleSnapshot(p)
				send("snapshot", snap)
			} else {
				if evs := p.consoleEventsSince(&lastSeq); len(evs) > 0 {
					send("events", evs)
				}
				send("metrics", s.consoleMetrics(p))
			}
		case <-sub.kicked:
			return nil
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		}
		if !flush() {
			return nil
		}
	}
}

func (p *project) consoleStamp() consoleStamp {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.consoleStampLocked()
}

// consoleEventsSince returns the events after *seq, newest first, and
// advances *seq.
func (p *project) consoleEventsSince(seq *uint64) []eventJSON {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []eventJSON
	for i := len(p.events) - 1; i >= 0 && p.events[i].seq > *seq && len(out) < consoleEvents; i-- {
		out = append(out, eventView(p, p.events[i]))
	}
	if n := len(p.events); n > 0 {
		*seq = max(*seq, p.events[n-1].seq)
	}
	return out
}

// historySource is what consoleSnapshot needs to recompute a breaker's
// aggregate history outside the project's lock.
type historySource struct {
	id      string
	cfg     engine.Config
	samples []engine.Sample
}

// consoleSnapshot describes the project for a console: breakers, routers,
// recent events and each breaker's aggregate history. It returns the
// sequence number of the newest event and the configuration stamp.
func (s *Server) consoleSnapshot(p *project) (consoleSnapshot, uint64, consoleStamp) {
	nowMs := s.nowMs()
	snap := consoleSnapshot{NowMs: nowMs, RateWindowMs: consoleRateWindow.Milliseconds(),
		Breakers: []consoleBreaker{}, Routers: []consoleRouter{}, History: map[string][]consolePoint{}}
	var seq uint64
	p.mu.Lock()
	snap.ProjectID, snap.ProjectName = p.ID, p.Name
	bs := p.sortedBreakers()
	srcs := make([]historySource, 0, len(bs))
	for _, b := range bs {
		snap.Breakers = append(snap.Breakers, consoleBreakerView(b))
		srcs = append(srcs, historySource{id: b.ID, cfg: b.spec.Config})
	}
	for _, rt := range p.sortedRouters() {
		snap.Routers = append(snap.Routers, consoleRouter{ID: rt.ID, Name: rt.Name})
	}
	snap.Events = p.consoleRecentEventsLocked()
	if n := len(p.events); n > 0 {
		seq = p.events[n-1].seq
	}
	for i, b := range bs {
		srcs[i].samples = p.samplesForLocked(b, nowMs-historySpan(srcs[i].cfg)-srcs[i].cfg.WindowMs)
	}
	stamp := p.consoleStampLocked()
	p.mu.Unlock()

	for _, src := range srcs {
		snap.History[src.id] = aggregateHistory(src.cfg, src.samples, nowMs)
	}
	return snap, seq, stamp
}

func consoleBreakerView(b *breaker) consoleBreaker {
	cfg := b.spec.Config.Normalize()
	ids := slices.Clone(b.routerIDs)
	if ids == nil {
		ids = []string{}
	}
	return consoleBreaker{ID: b.ID, Name: b.spec.Name, Metric: b.spec.Metric, Kind: b.spec.Kind,
		Percentile: b.spec.KindParams["percentile"], Op: b.spec.Op, Threshold: b.spec.Threshold,
		WindowMs: cfg.WindowMs, MinCount: cfg.MinCount, RouterIDs: ids, State: string(b.state),
		AllowRate: b.allowRate, Held: b.eng.Pinned(), StateAt: fmtTime(b.stateAt)}
}

// consoleRecentEventsLocked returns the most recent events, newest first;
// p.mu is held.
func (p *project) consoleRecentEventsLocked() []eventJSON {
	out := make([]eventJSON, 0, min(len(p.events), consoleEvents))
	for i := len(p.events) - 1; i >= 0 && len(out) < consoleEvents; i-- {
		out = append(out, eventView(p, p.events[i]))
	}
	return out
}

// samplesForLocked returns the kept samples that b sees with a timestamp
// after fromMs, oldest first; p.mu is held.
func (p *project) samplesForLocked(b *breaker, fromMs int64) []engine.Sample {
	var out []engine.Sample
	r := &p.samples
	for i := range r.n {
		sm := r.at(i)
		if sm.TsMs > fromMs && sm.Metric == b.spec.Metric && slices.Contains(b.routerIDs, sm.RouterID) {
			out = append(out, engine.Sample{TsMs: sm.TsMs, Value: sm.Value, OK: sm.OK})
		}
	}
	slices.SortStableFunc(out, func(a, b engine.Sample) int { return cmp.Compare(a.TsMs, b.TsMs) })
	return out
}

// historySpan is how far back a breaker's chart reaches: two windows, at
// least a minute and at most ten.
func historySpan(cfg engine.Config) int64 {
	cfg = cfg.Normalize()
	return min(max(2*cfg.WindowMs, 60_000), 600_000)
}

// aggregateHistory recomputes, with the breaker's own engine, the aggregate
// that an evaluation would have seen at consoleHistoryPoints times over the
// breaker's history span ending at nowMs. samples are ordered by timestamp.
func aggregateHistory(cfg engine.Config, samples []engine.Sample, nowMs int64) []consolePoint {
	span := historySpan(cfg)
	step := max(span/consoleHistoryPoints, consoleTick.Milliseconds())
	from := nowMs - span
	eng := engine.New(cfg, from)
	out := make([]consolePoint, 0, span/step+1)
	i := 0
	for t := from + step; t <= nowMs; t += step {
		for i < len(samples) && samples[i].TsMs <= t {
			eng.Add(samples[i])
			i++
		}
		v, n := eng.Aggregate(t)
		if n > 0 {
			out = append(out, consolePoint{float64(t), v, float64(n)})
		}
	}
	return out
}

// consoleMetrics takes each breaker's current aggregate and each router and
// metric's samples per second.
func (s *Server) consoleMetrics(p *project) consoleMetrics {
	nowMs := s.nowMs()
	m := consoleMetrics{NowMs: nowMs, Points: map[string]consolePoint{}, Held: []string{}, Rates: []consoleRate{}}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.breakers {
		v, n := b.eng.Aggregate(nowMs)
		m.Points[b.ID] = consolePoint{float64(nowMs), v, float64(n)}
		if b.eng.Pinned() {
			m.Held = append(m.Held, b.ID)
		}
	}
	slices.Sort(m.Held)
	type key struct{ router, metric string }
	counts := map[key]int{}
	win := consoleRateWindow.Milliseconds()
	// Samples arrive roughly in timestamp order: the scan goes from the
	// newest back and stops a little past the rate window.
	r := &p.samples
	for i := r.n - 1; i >= 0; i-- {
		sm := r.at(i)
		if sm.TsMs <= nowMs-win-10_000 {
			break
		}
		if sm.TsMs > nowMs-win && sm.TsMs <= nowMs {
			counts[key{sm.RouterID, sm.Metric}]++
		}
	}
	for k, n := range counts {
		m.Rates = append(m.Rates, consoleRate{RouterID: k.router, Metric: k.metric, PerSecond: float64(n) * 1000 / float64(win)})
	}
	slices.SortFunc(m.Rates, func(a, b consoleRate) int {
		if c := strings.Compare(a.RouterID, b.RouterID); c != 0 {
			return c
		}
		return strings.Compare(a.Metric, b.Metric)
	})
	return m
}
