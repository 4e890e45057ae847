package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// scrapes polls a Prometheus endpoint and remembers what it saw.
type scrapes struct {
	mu      sync.Mutex
	count   int
	series  map[string]map[string]bool // metric name → label names seen on it
	openAt  []string                   // breakers seen open (tripswitch_breaker_state{state="open"} 1)
	lastErr error
}

func (s *scrapes) poll(ctx context.Context, url string) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for {
		s.scrape(ctx, hc, url)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// seriesLine matches one sample line of the text exposition format.
var seriesLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func (s *scrapes) scrape(ctx context.Context, hc *http.Client, url string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		s.mu.Lock()
		s.lastErr = err
		s.mu.Unlock()
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if s.series == nil {
		s.series = make(map[string]map[string]bool)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := seriesLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, labels, value := m[1], m[2], m[3]
		if s.series[name] == nil {
			s.series[name] = make(map[string]bool)
		}
		lv := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(labels, -1) {
			s.series[name][p[1]] = true
			lv[p[1]] = p[2]
		}
		if name == "tripswitch_breaker_state" && lv["tripswitch_breaker_state"] == "open" && value == "1" &&
			!slices.Contains(s.openAt, lv["tripswitch_breaker_name"]) {
			s.openAt = append(s.openAt, lv["tripswitch_breaker_name"])
		}
	}
}

// TestDemoEndToEnd runs the demo's core on a 15 s schedule against the
// in-process local server and checks the story a user is promised. The
// rate is a little lower than the default so that a busy machine slows
// the run down less.
func TestDemoEndToEnd(t *testing.T) {
	cfg := defaultConfig()
	cfg.Duration = 15 * time.Second
	cfg.RPS = 40
	cfg.MetricsAddr = "127.0.0.1:0"
	ready := make(chan readyInfo, 1)
	cfg.ready = func(i readyInfo) { ready <- i }

	var out bytes.Buffer
	var sum *summary
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sum, runErr = run(context.Background(), cfg, &out)
	}()

	var info readyInfo
	select {
	case info = <-ready:
	case <-done:
		t.Fatalf("run ended before it was ready: %v\n%s", runErr, out.String())
	}
	var sc scrapes
	pollCtx, stopPoll := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		sc.poll(pollCtx, info.MetricsURL)
	}()
	<-done
	stopPoll()
	<-polled

	t.Logf("demo output:\n%s", out.String())
	if runErr != nil {
		t.Fatalf("run: %v", runErr)
	}

	// A breaker opened during the outage.
	if len(sum.OpenInOutage) == 0 {
		t.Errorf("no breaker was open during the outage; changes: %+v", sum.Changes)
	}
	// Calls were rejected and every rejected call got the fallback.
	rejected := sum.Rejected["open"] + sum.Rejected["throttled"] + sum.Rejected["unavailable"]
	if rejected == 0 {
		t.Errorf("no call was rejected")
	}
	if got := sum.fallbacks(); got != rejected {
		t.Errorf("fallback answers = %d, rejected calls = %d; want every rejection answered by the fallback", got, rejected)
	}
	if sum.Phases[phaseOutage].Fallback == 0 {
		t.Errorf("no fallback answer during the outage: %+v", sum.Phases[phaseOutage])
	}
	// Every breaker closed after recovery began, as the client and the
	// server see it.
	if !sum.Recovered {
		t.Errorf("breakers were never all closed during recovery: changes %+v", sum.Changes)
	}
	var logged []change
	for _, e := range sum.Events {
		var c change
		if c.From.UnmarshalText([]byte(e.From)) != nil || c.To.UnmarshalText([]byte(e.To)) != nil {
			t.Fatalf("server event with unknown states: %+v", e)
		}
		c.At, c.Breaker = e.At, e.Breaker
		logged = append(logged, c)
	}
	if len(logged) == 0 {
		t.Error("the server's event log has no transition")
	}
	closedAtStart := map[string]tripswitch.State{breakerLatency: tripswitch.StateClosed, breakerErrors: tripswitch.StateClosed}
	if _, ok := firstAllClosed(closedAtStart, logged, sum.Schedule.start(phaseRecovery), sum.Elapsed+time.Second); !ok {
		t.Errorf("server event log: the breakers were never all closed during recovery (events %+v)", sum.Events)
	}
	if !sum.OK() {
		t.Errorf("summary.OK() = false, want true")
	}
	// Healthy traffic was paid for, before and after.
	if sum.Phases[phaseHealthy].Paid == 0 || sum.Phases[phaseRecovery].Paid == 0 {
		t.Errorf("no paid checkout in the healthy or recovery phase: %+v", sum.Phases)
	}

	// Samples: none lost, all flushed, and every source delivered some.
	st := sum.Samples
	if st.Delivered+st.Dropped+uint64(st.Buffered) != st.Produced {
		t.Errorf("samples: delivered %d + dropped %d + buffered %d != produced %d", st.Delivered, st.Dropped, st.Buffered, st.Produced)
	}
	if st.Buffered != 0 || st.Delivered == 0 {
		t.Errorf("samples after shutdown: buffered %d, delivered %d; want everything flushed", st.Buffered, st.Delivered)
	}
	for _, metric := range []string{latencyMetric, spanMetric, exporterMetric} {
		if sum.AtServer[metric] == 0 {
			t.Errorf("the server received no %q sample (at server: %v)", metric, sum.AtServer)
		}
	}
	var atServer int
	for _, n := range sum.AtServer {
		atServer += n
	}
	if uint64(atServer) < st.Delivered {
		t.Errorf("server holds %d samples, client delivered %d", atServer, st.Delivered)
	}
	if sum.Traced < sum.AtServer[latencyMetric] {
		t.Errorf("%d of %d samples carry a trace ID; want at least every Execute sample", sum.Traced, sum.AtServer[latencyMetric])
	}
	for _, s := range info.Server.Samples(info.ProjectID) {
		if s.Metric == latencyMetric && !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.TraceID) {
			t.Errorf("Execute sample with trace ID %q, want 32 lowercase hex digits", s.TraceID)
			break
		}
	}

	// Prometheus served the breaker states, with open visible at a scrape.
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.count == 0 {
		t.Fatalf("no successful scrape of %s (last error %v)", info.MetricsURL, sc.lastErr)
	}
	if len(sc.openAt) == 0 {
		t.Errorf("no scrape out of %d showed a breaker open in tripswitch_breaker_state", sc.count)
	}
	// Every metric and label the Grafana dashboard queries is exported.
	for _, q := range dashboardQueries(t) {
		for _, sel := range q.selectors {
			labels, ok := sc.series[sel.metric]
			if !ok {
				t.Errorf("dashboard panel %q queries %s, which the demo does not export", q.panel, sel.metric)
				continue
			}
			for _, l := range sel.labels {
				if !labels[l] {
					t.Errorf("dashboard panel %q uses label %s of %s, which the demo does not export", q.panel, l, sel.metric)
				}
			}
		}
	}

	// The output a person follows.
	text := out.String()
	for _, want := range []string{"phase=healthy", "phase=latency-spike", "phase=outage", "phase=recovery", "payments-p95=open", "summary", "time to trip", "time to recover", "result           PASS"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Errorf("output has colour codes although colour is off")
	}
}

// dashboardQuery is one query of the dashboard and the series it selects.
type dashboardQuery struct {
	panel     string
	expr      string
	selectors []selector
}

type selector struct {
	metric string
	labels []string // labels the query matches on or groups by (job excluded: Prometheus adds it)
}

var (
	selectorRe = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcherRe  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	byRe       = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// dashboardQueries reads the PromQL of every panel of the provisioned
// dashboard. The dashboard writes every metric selector with braces, so
// name{…} finds them all.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "dashboards", "tripswitch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var out []dashboardQuery
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			q := dashboardQuery{panel: p.Title, expr: tg.Expr}
			var grouped []string
			for _, m := range byRe.FindAllStringSubmatch(tg.Expr, -1) {
				for _, l := range strings.Split(m[1], ",") {
					grouped = append(grouped, strings.TrimSpace(l))
				}
			}
			for _, m := range selectorRe.FindAllStringSubmatch(tg.Expr, -1) {
				sel := selector{metric: m[1]}
				for _, mm := range matcherRe.FindAllStringSubmatch(m[2], -1) {
					if mm[1] != "job" {
						sel.labels = append(sel.labels, mm[1])
					}
				}
				for _, l := range grouped {
					if l != "" && l != "job" && (l != "le" || strings.HasSuffix(sel.metric, "_bucket")) {
						sel.labels = append(sel.labels, l)
					}
				}
				q.selectors = append(q.selectors, sel)
			}
			if len(q.selectors) == 0 {
				t.Errorf("dashboard panel %q: no metric selector in %q", p.Title, tg.Expr)
			}
			out = append(out, q)
		}
	}
	if len(out) == 0 {
		t.Fatal("dashboard has no queries")
	}
	return out
}

func TestScheduleScalesWithDuration(t *testing.T) {
	for _, tc := range []struct {
		total                        time.Duration
		spike, outage, recovery      time.Duration
		windowMs, cooldownMs, evalMs int64
		confirmMs                    int64
	}{
		{60 * time.Second, 10 * time.Second, 25 * time.Second, 40 * time.Second, 5000, 4000, 250, 2000},
		{12 * time.Second, 2 * time.Second, 5 * time.Second, 8 * time.Second, 2000, 800, 100, 400},
		{10 * time.Minute, 100 * time.Second, 250 * time.Second, 400 * time.Second, 50000, 40000, 2500, 20000},
	} {
		t.Run(tc.total.String(), func(t *testing.T) {
			s := newSchedule(tc.total)
			if s.start(phaseSpike) != tc.spike || s.start(phaseOutage) != tc.outage || s.start(phaseRecovery) != tc.recovery || s.end(phaseRecovery) != tc.total {
				t.Errorf("phase starts = %v, want spike %v outage %v recovery %v end %v", s.starts, tc.spike, tc.outage, tc.recovery, tc.total)
			}
			for _, c := range []struct {
				at   time.Duration
				want phase
			}{{0, phaseHealthy}, {tc.spike - 1, phaseHealthy}, {tc.spike, phaseSpike}, {tc.outage, phaseOutage}, {tc.recovery, phaseRecovery}, {tc.total * 2, phaseRecovery}} {
				if got := s.at(c.at); got != c.want {
					t.Errorf("at(%v) = %v, want %v", c.at, got, c.want)
				}
			}
			for _, b := range s.breakers() {
				if b.WindowMs != tc.windowMs || b.CooldownMs != tc.cooldownMs || b.EvalIntervalMs != tc.evalMs || b.HalfOpenConfirmationMs != tc.confirmMs {
					t.Errorf("%s: window %d cooldown %d eval %d confirm %d, want %d %d %d %d", b.Name,
						b.WindowMs, b.CooldownMs, b.EvalIntervalMs, b.HalfOpenConfirmationMs, tc.windowMs, tc.cooldownMs, tc.evalMs, tc.confirmMs)
				}
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	secret := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name    string
		args    []string
		env     func(string) string
		wantErr string // substring; "" for success
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", env: env(), check: func(t *testing.T, c config) {
			if c.Duration != time.Minute || c.RPS != 50 || c.MetricsAddr != "127.0.0.1:9464" || c.Remote != nil || c.OTLP {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "flags", args: []string{"-duration", "2m", "-rps", "20", "-metrics-addr", "", "-seed", "7"}, env: env(), check: func(t *testing.T, c config) {
			if c.Duration != 2*time.Minute || c.RPS != 20 || c.MetricsAddr != "" || c.Seed != 7 {
				t.Errorf("flags: %+v", c)
			}
		}},
		{name: "too short", args: []string{"-duration", "5s"}, env: env(), wantErr: "-duration 5s: must be at least 10s"},
		{name: "bad rps", args: []string{"-rps", "0"}, env: env(), wantErr: "-rps 0"},
		{name: "stray argument", args: []string{"now"}, env: env(), wantErr: `unexpected argument "now"`},
		{name: "otlp", env: env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), check: func(t *testing.T, c config) {
			if !c.OTLP {
				t.Error("OTLP off with OTEL_EXPORTER_OTLP_ENDPOINT set")
			}
		}},
		{name: "remote", env: env("TRIPSWITCH_PROJECT_ID", "proj_1", "TRIPSWITCH_API_KEY", "eb_pk_x", "TRIPSWITCH_INGEST_SECRET", secret,
			"TRIPSWITCH_BASE_URL", "http://tripswitch:8787", "TRIPSWITCH_INSECURE_HTTP", "1"), check: func(t *testing.T, c config) {
			r := c.Remote
			if r == nil || r.BaseURL != "http://tripswitch:8787" || r.ProjectID != "proj_1" || !r.InsecureHTTP || r.AdminKey != "" {
				t.Errorf("remote: %+v", r)
			}
		}},
		{name: "remote default base URL", env: env("TRIPSWITCH_PROJECT_ID", "proj_1", "TRIPSWITCH_API_KEY", "eb_pk_x", "TRIPSWITCH_INGEST_SECRET", secret), check: func(t *testing.T, c config) {
			if c.Remote == nil || c.Remote.BaseURL != tripswitch.DefaultBaseURL {
				t.Errorf("remote: %+v", c.Remote)
			}
		}},
		{name: "remote without secret", env: env("TRIPSWITCH_PROJECT_ID", "proj_1", "TRIPSWITCH_API_KEY", "eb_pk_x"), wantErr: "TRIPSWITCH_INGEST_SECRET must be set"},
		{name: "key without project", env: env("TRIPSWITCH_API_KEY", "eb_pk_x"), wantErr: "TRIPSWITCH_PROJECT_ID is not set"},
		{name: "bad insecure", env: env("TRIPSWITCH_INSECURE_HTTP", "maybe"), wantErr: "TRIPSWITCH_INSECURE_HTTP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.args, tc.env, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "eb_pk_x") {
					t.Errorf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestOpenDuring(t *testing.T) {
	open, closed, half := tripswitch.StateOpen, tripswitch.StateClosed, tripswitch.StateHalfOpen
	ch := func(at time.Duration, from, to tripswitch.State) change {
		return change{At: at * time.Second, Breaker: "b", From: from, To: to}
	}
	for _, tc := range []struct {
		name    string
		initial tripswitch.State
		changes []change
		want    bool
	}{
		{"never", closed, nil, false},
		{"open from the start", open, nil, true},
		{"opened before, still open", closed, []change{ch(1, closed, open)}, true},
		{"opened and half-open before", closed, []change{ch(1, closed, open), ch(2, open, half)}, false},
		{"opens inside", closed, []change{ch(6, closed, open)}, true},
		{"opens after", closed, []change{ch(10, closed, open)}, false},
		{"other breaker", closed, []change{{At: 6 * time.Second, Breaker: "x", To: open}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := openDuring(tc.initial, tc.changes, "b", 5*time.Second, 10*time.Second); got != tc.want {
				t.Errorf("openDuring = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	tl := tally{Paid: 12, Fallback: 38, latencies: []time.Duration{10 * time.Millisecond, 812 * time.Millisecond}}
	states := map[string]tripswitch.BreakerStatus{
		breakerLatency: {State: tripswitch.StateOpen},
		breakerErrors:  {State: tripswitch.StateHalfOpen, AllowRate: 0.5},
	}
	got := progressLine(false, 12*time.Second, phaseOutage, tl, states)
	want := "t=12s phase=outage        rps=50  ok=12  fallback=38  failed=0   p95=812ms  payments-p95=open payments-errors=half_open(0.50)"
	if got != want {
		t.Errorf("line:\n got %q\nwant %q", got, want)
	}
	colored := progressLine(true, 12*time.Second, phaseOutage, tl, states)
	if !strings.Contains(colored, ansiRed+"open"+ansiReset) || !strings.Contains(colored, ansiYellow+"half_open(0.50)"+ansiReset) {
		t.Errorf("coloured line lacks state colours: %q", colored)
	}
}

func TestColorOutput(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if colorOutput(f, "") {
		t.Error("colour on for a regular file")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !colorOutput(tty, "") {
			t.Error("colour off for a terminal")
		}
		if colorOutput(tty, "1") {
			t.Error("colour on for a terminal with NO_COLOR=1")
		}
	}
}

func TestSummaryDerive(t *testing.T) {
	sched := newSchedule(time.Minute) // spike at 10 s, outage at 25 s, recovery at 40 s
	open, closed, half := tripswitch.StateOpen, tripswitch.StateClosed, tripswitch.StateHalfOpen
	story := []change{
		{At: 11 * time.Second, Breaker: breakerLatency, From: closed, To: open},
		{At: 26 * time.Second, Breaker: breakerErrors, From: closed, To: open},
		{At: 44 * time.Second, Breaker: breakerLatency, From: half, To: closed},
		{At: 45 * time.Second, Breaker: breakerErrors, From: half, To: closed},
	}
	allClosed := map[string]tripswitch.BreakerStatus{breakerLatency: {State: closed}, breakerErrors: {State: closed}}
	for _, tc := range []struct {
		name        string
		s           summary
		wantTrip    time.Duration
		wantOutage  []string
		wantRecover time.Duration // -1: not recovered
		wantOK      bool
	}{
		{
			name: "the whole story",
			s: summary{Elapsed: time.Minute, Changes: story, Final: allClosed,
				Phases: [numPhases]tally{phaseOutage: {Fallback: 5}}},
			wantTrip: time.Second, wantOutage: []string{breakerLatency, breakerErrors}, wantRecover: 5 * time.Second, wantOK: true,
		},
		{
			name: "interrupted in the spike",
			s: summary{Elapsed: 14 * time.Second, Interrupted: true, Changes: story[:1],
				Final: map[string]tripswitch.BreakerStatus{breakerLatency: {State: open}}, Phases: [numPhases]tally{phaseSpike: {Fallback: 5}}},
			wantTrip: time.Second, wantRecover: -1,
		},
		{
			name: "never recovered",
			s: summary{Elapsed: time.Minute, Changes: story[:2],
				Final: map[string]tripswitch.BreakerStatus{breakerLatency: {State: open}, breakerErrors: {State: half}}, Phases: [numPhases]tally{phaseOutage: {Fallback: 5}}},
			wantTrip: time.Second, wantOutage: []string{breakerLatency, breakerErrors}, wantRecover: -1,
		},
		{
			name: "tripped again after recovering",
			s: summary{Elapsed: time.Minute, Changes: append(slices.Clone(story), change{At: 50 * time.Second, Breaker: breakerLatency, From: closed, To: open}),
				Final:  map[string]tripswitch.BreakerStatus{breakerLatency: {State: open}, breakerErrors: {State: closed}},
				Phases: [numPhases]tally{phaseOutage: {Fallback: 5}}},
			wantTrip: time.Second, wantOutage: []string{breakerLatency, breakerErrors}, wantRecover: 5 * time.Second, wantOK: true,
		},
		{
			name:     "never tripped",
			s:        summary{Elapsed: time.Minute, Final: allClosed},
			wantTrip: -1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			s.Schedule = sched
			s.Initial = map[string]tripswitch.State{breakerLatency: closed, breakerErrors: closed}
			s.derive()
			if tc.wantTrip >= 0 && (!s.Tripped || s.TimeToTrip != tc.wantTrip) {
				t.Errorf("trip: %v after %v, want after %v", s.Tripped, s.TimeToTrip, tc.wantTrip)
			}
			if tc.wantTrip < 0 && s.Tripped {
				t.Errorf("tripped, want not")
			}
			if !slices.Equal(s.OpenInOutage, tc.wantOutage) {
				t.Errorf("open in outage = %v, want %v", s.OpenInOutage, tc.wantOutage)
			}
			if s.Recovered != (tc.wantRecover >= 0) || (s.Recovered && s.TimeToRecover != tc.wantRecover) {
				t.Errorf("recovered %v after %v, want after %v", s.Recovered, s.TimeToRecover, tc.wantRecover)
			}
			if s.OK() != tc.wantOK {
				t.Errorf("OK() = %v, want %v", s.OK(), tc.wantOK)
			}
		})
	}
}
