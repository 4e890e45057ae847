package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// root is the repository root, relative to this package.
const root = ".."

// doc is a parsed YAML document with helpers that fail the test on a
// missing or mistyped path.
type doc struct {
	t    *testing.T
	file string
	v    any
}

func load(t *testing.T, rel string) doc {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseYAML(string(data))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return doc{t: t, file: rel, v: v}
}

// get walks a path of mapping keys.
func (d doc) get(path ...string) any {
	d.t.Helper()
	v := d.v
	for i, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			d.t.Fatalf("%s: %s is not a mapping", d.file, strings.Join(path[:i], "."))
		}
		if v, ok = m[k]; !ok {
			d.t.Fatalf("%s: %s is missing", d.file, strings.Join(path[:i+1], "."))
		}
	}
	return v
}

func (d doc) str(path ...string) string {
	d.t.Helper()
	s, ok := d.get(path...).(string)
	if !ok {
		d.t.Fatalf("%s: %s is not a scalar", d.file, strings.Join(path, "."))
	}
	return s
}

func (d doc) mapping(path ...string) map[string]any {
	d.t.Helper()
	m, ok := d.get(path...).(map[string]any)
	if !ok {
		d.t.Fatalf("%s: %s is not a mapping", d.file, strings.Join(path, "."))
	}
	return m
}

func (d doc) strings(path ...string) []string {
	d.t.Helper()
	seq, ok := d.get(path...).([]any)
	if !ok {
		d.t.Fatalf("%s: %s is not a sequence", d.file, strings.Join(path, "."))
	}
	out := make([]string, len(seq))
	for i, v := range seq {
		if out[i], ok = v.(string); !ok {
			d.t.Fatalf("%s: %s[%d] is not a scalar", d.file, strings.Join(path, "."), i)
		}
	}
	return out
}

func (d doc) has(path ...string) bool {
	v := d.v
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[k]; !ok {
			return false
		}
	}
	return true
}

func hostPort(t *testing.T, where, hp string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatalf("%s: %q: %v", where, hp, err)
	}
	return h, p
}

func urlHostPort(t *testing.T, where, raw string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("%s: %q is not an absolute URL", where, raw)
	}
	return hostPort(t, where, u.Host)
}

// compose is docker-compose.yml.
type compose struct{ doc }

func loadCompose(t *testing.T) compose { return compose{load(t, "docker-compose.yml")} }

var wantServices = []string{"tripswitch", "demo", "otel-collector", "prometheus", "jaeger", "grafana"}

func (c compose) env(service string) map[string]string {
	c.t.Helper()
	out := map[string]string{}
	for k, v := range c.mapping("services", service, "environment") {
		s, ok := v.(string)
		if !ok {
			c.t.Fatalf("compose: %s environment %s is not a scalar", service, k)
		}
		out[k] = s
	}
	return out
}

// flag returns the value of -name in a service's command.
func (c compose) flag(service, name string) string {
	c.t.Helper()
	cmd := c.strings("services", service, "command")
	for i, a := range cmd {
		if a == name && i+1 < len(cmd) {
			return cmd[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	c.t.Fatalf("compose: %s command has no %s: %q", service, name, cmd)
	return ""
}

// published returns the container ports a service publishes.
func (c compose) published(service string) []string {
	c.t.Helper()
	if !c.has("services", service, "ports") {
		return nil
	}
	var out []string
	for _, p := range c.strings("services", service, "ports") {
		parts := strings.Split(p, ":")
		if len(parts) != 3 || parts[0] != "127.0.0.1" {
			c.t.Errorf("compose: %s publishes %q; want 127.0.0.1:HOST:CONTAINER (loopback only)", service, p)
			continue
		}
		out = append(out, parts[2])
	}
	return out
}

// mounts returns a service's bind mounts as container path → host path
// (relative to the repository root).
func (c compose) mounts(service string) map[string]string {
	c.t.Helper()
	out := map[string]string{}
	if !c.has("services", service, "volumes") {
		return out
	}
	for _, v := range c.strings("services", service, "volumes") {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			c.t.Errorf("compose: %s volume %q: want HOST:CONTAINER[:ro]", service, v)
			continue
		}
		out[parts[1]] = parts[0]
	}
	return out
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	services := c.mapping("services")
	var names []string
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(wantServices))
	if !slices.Equal(names, want) {
		t.Errorf("services = %v, want %v", names, want)
	}
	for _, name := range names {
		svc := c.mapping("services", name)
		_, hasImage := svc["image"]
		_, hasBuild := svc["build"]
		switch {
		case hasImage == hasBuild:
			t.Errorf("%s: want exactly one of image and build", name)
		case hasImage:
			img := c.str("services", name, "image")
			if i := strings.LastIndex(img, ":"); i < 0 || img[i+1:] == "latest" || strings.Contains(img[i+1:], "/") {
				t.Errorf("%s: image %q is not pinned to a version", name, img)
			}
		default:
			if ctx := c.str("services", name, "build", "context"); ctx != "." {
				t.Errorf("%s: build context %q, want the repository root", name, ctx)
			}
			checkDockerfile(t, c.str("services", name, "build", "dockerfile"))
		}
		for dep := range c.dependsOn(name) {
			if _, ok := services[dep]; !ok {
				t.Errorf("%s depends on unknown service %q", name, dep)
			}
		}
		for container, host := range c.mounts(name) {
			if _, err := os.Stat(filepath.Join(root, host)); err != nil {
				t.Errorf("%s mounts %s at %s: %v", name, host, container, err)
			}
		}
		c.published(name)
	}
}

// dependsOn returns a service's dependencies and the condition each must
// meet, from either form compose accepts (a list of names, or a mapping
// of name to {condition}); a listed name means service_started.
func (c compose) dependsOn(service string) map[string]string {
	c.t.Helper()
	out := map[string]string{}
	if !c.has("services", service, "depends_on") {
		return out
	}
	switch deps := c.get("services", service, "depends_on").(type) {
	case []any:
		for _, name := range c.strings("services", service, "depends_on") {
			out[name] = "service_started"
		}
	case map[string]any:
		for name := range deps {
			cond := "service_started"
			if c.has("services", service, "depends_on", name, "condition") {
				cond = c.str("services", service, "depends_on", name, "condition")
			}
			out[name] = cond
		}
	default:
		c.t.Fatalf("compose: %s depends_on is neither a list nor a mapping", service)
	}
	return out
}

var (
	fromRe  = regexp.MustCompile(`(?m)^FROM\s+(\S+)`)
	buildRe = regexp.MustCompile(`(?m)go build .*-o (\S+)\s+(?:.*\s)?(\./\S+)\s*$`)
	copyRe  = regexp.MustCompile(`(?m)^COPY --from=\S+ (\S+) (\S+)\s*$`)
)

// checkDockerfile checks that a Dockerfile pins its base images and builds
// main packages that exist.
func checkDockerfile(t *testing.T, rel string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Error(err)
		return
	}
	for _, m := range fromRe.FindAllStringSubmatch(string(data), -1) {
		img := m[1]
		if i := strings.LastIndex(img, ":"); i < 0 || img[i+1:] == "latest" {
			t.Errorf("%s: base image %q is not pinned", rel, img)
		}
	}
	builds := buildRe.FindAllStringSubmatch(string(data), -1)
	if builds == nil {
		t.Errorf("%s: no `go build -o OUT … ./path` line", rel)
		return
	}
	for _, m := range builds {
		src, err := os.ReadFile(filepath.Join(root, m[2], "main.go"))
		if err != nil || !regexp.MustCompile(`(?m)^package main$`).Match(src) {
			t.Errorf("%s builds %s, which is not a main package (%v)", rel, m[2], err)
		}
	}
}

// imageFiles returns the files a Dockerfile copies from its build stage
// into the final image: image path → the package that builds it.
func imageFiles(t *testing.T, rel string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	built := map[string]string{}
	for _, m := range buildRe.FindAllStringSubmatch(string(data), -1) {
		built[m[1]] = m[2]
	}
	out := map[string]string{}
	for _, m := range copyRe.FindAllStringSubmatch(string(data), -1) {
		out[m[2]] = built[m[1]]
	}
	return out
}

// TestComposeDemoReachesServer checks that the demo is pointed at the
// server it shares credentials with, and at the collector.
func TestComposeDemoReachesServer(t *testing.T) {
	c := loadCompose(t)
	server, demo := c.env("tripswitch"), c.env("demo")

	_, listenPort := hostPort(t, "tripswitch TRIPSWITCH_LOCAL_ADDR", server["TRIPSWITCH_LOCAL_ADDR"])
	host, port := urlHostPort(t, "demo TRIPSWITCH_BASE_URL", demo["TRIPSWITCH_BASE_URL"])
	if host != "tripswitch" || port != listenPort {
		t.Errorf("demo TRIPSWITCH_BASE_URL %s, want the tripswitch service on port %s", demo["TRIPSWITCH_BASE_URL"], listenPort)
	}
	if !slices.Contains(c.published("tripswitch"), listenPort) {
		t.Errorf("tripswitch does not publish its port %s", listenPort)
	}
	for _, k := range []string{"TRIPSWITCH_ADMIN_KEY", "TRIPSWITCH_PROJECT_ID", "TRIPSWITCH_API_KEY", "TRIPSWITCH_INGEST_SECRET"} {
		if server[k] == "" || server[k] != demo[k] {
			t.Errorf("%s differs between the tripswitch and demo services (or is empty)", k)
		}
	}
	if !strings.HasPrefix(server["TRIPSWITCH_ADMIN_KEY"], "eb_admin_") || !strings.HasPrefix(server["TRIPSWITCH_API_KEY"], "eb_pk_") ||
		!regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(server["TRIPSWITCH_INGEST_SECRET"]) {
		t.Error("the fixed credentials do not have the formats the server accepts")
	}
	if strings.HasPrefix(demo["TRIPSWITCH_BASE_URL"], "http://") && demo["TRIPSWITCH_INSECURE_HTTP"] != "1" {
		t.Error("the demo reaches the server over plain http on a non-loopback host without TRIPSWITCH_INSECURE_HTTP=1")
	}

	col := load(t, "deploy/otel-collector/config.yaml")
	_, otlpHTTP := hostPort(t, "collector otlp http", col.str("receivers", "otlp", "protocols", "http", "endpoint"))
	host, port = urlHostPort(t, "demo OTEL_EXPORTER_OTLP_ENDPOINT", demo["OTEL_EXPORTER_OTLP_ENDPOINT"])
	if host != "otel-collector" || port != otlpHTTP {
		t.Errorf("demo OTEL_EXPORTER_OTLP_ENDPOINT %s, want the otel-collector service on its OTLP/HTTP port %s", demo["OTEL_EXPORTER_OTLP_ENDPOINT"], otlpHTTP)
	}
	for _, f := range []string{"-metrics-addr", "-checkout-addr"} {
		h, p := hostPort(t, "demo "+f, c.flag("demo", f))
		if h != "0.0.0.0" {
			t.Errorf("demo %s listens on %s; inside a container it must listen on 0.0.0.0", f, h)
		}
		if !slices.Contains(c.published("demo"), p) {
			t.Errorf("demo does not publish the %s port %s", f, p)
		}
	}
}

func TestCollectorConfig(t *testing.T) {
	c := loadCompose(t)
	col := load(t, "deploy/otel-collector/config.yaml")

	// The file is mounted where the command reads it.
	cfgPath := c.flag("otel-collector", "--config")
	if host := c.mounts("otel-collector")[cfgPath]; host != "./deploy/otel-collector/config.yaml" {
		t.Errorf("collector reads %s, where compose mounts %q", cfgPath, host)
	}

	defined := map[string]map[string]any{}
	for _, kind := range []string{"receivers", "processors", "exporters", "extensions"} {
		defined[kind] = col.mapping(kind)
	}
	for _, e := range col.strings("service", "extensions") {
		if _, ok := defined["extensions"][e]; !ok {
			t.Errorf("service.extensions uses undefined %q", e)
		}
	}
	pipelines := col.mapping("service", "pipelines")
	for name := range pipelines {
		for _, kind := range []string{"receivers", "processors", "exporters"} {
			for _, comp := range col.strings("service", "pipelines", name, kind) {
				if _, ok := defined[kind][comp]; !ok {
					t.Errorf("pipeline %s uses undefined %s %q", name, kind, comp)
				}
			}
		}
	}
	if !slices.Contains(col.strings("service", "pipelines", "traces", "receivers"), "otlp") ||
		!slices.Contains(col.strings("service", "pipelines", "metrics", "receivers"), "otlp") {
		t.Error("traces and metrics pipelines must receive OTLP")
	}

	// Traces go to Jaeger's OTLP/gRPC port.
	var toJaeger bool
	for _, e := range col.strings("service", "pipelines", "traces", "exporters") {
		if strings.HasPrefix(e, "otlp") {
			host, port := hostPort(t, "exporter "+e, col.str("exporters", e, "endpoint"))
			if host == "jaeger" && port == "4317" {
				toJaeger = true
			}
		}
	}
	if !toJaeger {
		t.Error("the traces pipeline does not export to jaeger:4317")
	}
	if _, ok := c.mapping("services")["jaeger"]; !ok {
		t.Error("no jaeger service")
	}

	// Metrics go to a Prometheus endpoint that Prometheus scrapes.
	if !slices.Contains(col.strings("service", "pipelines", "metrics", "exporters"), "prometheus") {
		t.Fatal("the metrics pipeline does not export to prometheus")
	}
	_, promPort := hostPort(t, "collector prometheus exporter", col.str("exporters", "prometheus", "endpoint"))
	if !slices.Contains(scrapeTargets(t), "otel-collector:"+promPort) {
		t.Errorf("Prometheus does not scrape the collector's exporter at otel-collector:%s", promPort)
	}
}

// scrapeTargets returns every static target of prometheus.yml.
func scrapeTargets(t *testing.T) []string {
	t.Helper()
	p := load(t, "deploy/prometheus/prometheus.yml")
	var out []string
	for _, job := range jobs(p) {
		out = append(out, job.targets...)
	}
	return out
}

type scrapeJob struct {
	name    string
	targets []string
}

func jobs(p doc) []scrapeJob {
	p.t.Helper()
	seq, ok := p.get("scrape_configs").([]any)
	if !ok {
		p.t.Fatal("prometheus.yml: scrape_configs is not a sequence")
	}
	var out []scrapeJob
	for i, item := range seq {
		d := doc{t: p.t, file: fmt.Sprintf("prometheus.yml scrape_configs[%d]", i), v: item}
		j := scrapeJob{name: d.str("job_name")}
		sc, ok := d.get("static_configs").([]any)
		if !ok {
			p.t.Fatalf("%s: static_configs is not a sequence", d.file)
		}
		for k, s := range sc {
			sd := doc{t: p.t, file: fmt.Sprintf("%s static_configs[%d]", d.file, k), v: s}
			j.targets = append(j.targets, sd.strings("targets")...)
		}
		out = append(out, j)
	}
	return out
}

func TestPrometheusConfig(t *testing.T) {
	c := loadCompose(t)
	p := load(t, "deploy/prometheus/prometheus.yml")
	cfgPath := c.flag("prometheus", "--config.file")
	if host := c.mounts("prometheus")[cfgPath]; host != "./deploy/prometheus/prometheus.yml" {
		t.Errorf("prometheus reads %s, where compose mounts %q", cfgPath, host)
	}
	services := c.mapping("services")
	byName := map[string]scrapeJob{}
	for _, j := range jobs(p) {
		if _, dup := byName[j.name]; dup {
			t.Errorf("job %q defined twice", j.name)
		}
		byName[j.name] = j
		for _, target := range j.targets {
			host, _ := hostPort(t, "job "+j.name, target)
			if _, ok := services[host]; !ok {
				t.Errorf("job %s scrapes %s: no such compose service", j.name, target)
			}
		}
	}
	_, metricsPort := hostPort(t, "demo -metrics-addr", c.flag("demo", "-metrics-addr"))
	demoJob, ok := byName[dashboardJob]
	if !ok || !slices.Contains(demoJob.targets, "demo:"+metricsPort) {
		t.Errorf("job %q (read by the dashboard) must scrape demo:%s, the demo's -metrics-addr; got %+v", dashboardJob, metricsPort, demoJob)
	}
}

// dashboardJob is the Prometheus job every dashboard query selects.
const dashboardJob = "otel-demo"

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int     `json:"id"`
	Title      string  `json:"title"`
	Type       string  `json:"type"`
	Datasource dsRef   `json:"datasource"`
	GridPos    gridPos `json:"gridPos"`
	Targets    []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource dsRef  `json:"datasource"`
	} `json:"targets"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPos struct{ X, Y, W, H int }

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "deploy/grafana/dashboards/tripswitch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	return d
}

func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	mounts := c.mounts("grafana")
	if mounts["/etc/grafana/provisioning"] != "./deploy/grafana/provisioning" {
		t.Errorf("grafana provisioning mount = %q", mounts["/etc/grafana/provisioning"])
	}
	ds := load(t, "deploy/grafana/provisioning/datasources/datasources.yml")
	seq, ok := ds.get("datasources").([]any)
	if !ok {
		t.Fatal("datasources is not a sequence")
	}
	uids := map[string]string{} // uid → type
	services := c.mapping("services")
	for i, item := range seq {
		d := doc{t: t, file: fmt.Sprintf("datasources[%d]", i), v: item}
		uids[d.str("uid")] = d.str("type")
		host, port := urlHostPort(t, d.file+" url", d.str("url"))
		if _, ok := services[host]; !ok {
			t.Errorf("%s points at %s: no such compose service", d.file, host)
		}
		want := map[string]string{"prometheus": "9090", "jaeger": "16686"}[d.str("type")]
		if port != want {
			t.Errorf("%s (%s) uses port %s, want %s", d.file, d.str("type"), port, want)
		}
	}

	dp := load(t, "deploy/grafana/provisioning/dashboards/dashboards.yml")
	providers, ok := dp.get("providers").([]any)
	if !ok || len(providers) == 0 {
		t.Fatal("providers is not a non-empty sequence")
	}
	path := doc{t: t, file: "providers[0]", v: providers[0]}.str("options", "path")
	if mounts[path] != "./deploy/grafana/dashboards" {
		t.Errorf("dashboards provider reads %s, where compose mounts %q", path, mounts[path])
	}
	home := c.env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	if dir, file := filepath.Split(home); filepath.Clean(dir) != path || file != "tripswitch.json" {
		t.Errorf("home dashboard %q is not the provisioned tripswitch.json", home)
	}

	d := loadDashboard(t)
	for _, p := range d.Panels {
		refs := []dsRef{p.Datasource}
		for _, tg := range p.Targets {
			refs = append(refs, tg.Datasource)
		}
		for _, r := range refs {
			if typ, ok := uids[r.UID]; !ok || typ != r.Type {
				t.Errorf("panel %q uses data source %+v, which is not provisioned", p.Title, r)
			}
		}
	}
}

var jobMatcher = regexp.MustCompile(`job\s*=\s*"([^"]*)"`)
var selectorRe = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)

// TestDashboard checks the dashboard's shape and that it shows what the
// issue asks for. Whether its metrics exist is checked against a real
// scrape by the demo's end-to-end test.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	ids := map[int]bool{}
	var metrics []string
	for i, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q has a bad position %+v", p.Title, p.GridPos)
		}
		for _, q := range d.Panels[:i] {
			a, b := p.GridPos, q.GridPos
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("panels %q and %q overlap", p.Title, q.Title)
			}
		}
		for _, tg := range p.Targets {
			sels := selectorRe.FindAllStringSubmatch(tg.Expr, -1)
			if len(sels) == 0 {
				t.Errorf("panel %q query %s: no metric selector", p.Title, tg.RefID)
			}
			for _, s := range sels {
				metrics = append(metrics, s[1])
				m := jobMatcher.FindStringSubmatch(s[2])
				if m == nil || m[1] != dashboardJob {
					t.Errorf("panel %q: selector %s must select job=%q", p.Title, s[0], dashboardJob)
				}
			}
		}
	}
	// The panels the stack promises.
	for _, want := range []struct{ what, metric string }{
		{"breaker state timeline", "tripswitch_breaker_state"},
		{"rejections by reason", "tripswitch_breaker_rejections_total"},
		{"request latency", "http_server_request_duration_seconds_bucket"},
		{"samples delivered", "tripswitch_sample_delivered_total"},
		{"samples dropped", "tripswitch_sample_dropped_total"},
		{"stream connected", "tripswitch_stream_connected"},
	} {
		if !slices.Contains(metrics, want.metric) {
			t.Errorf("the dashboard has no %s (metric %s)", want.what, want.metric)
		}
	}
	var stateTimeline bool
	for _, p := range d.Panels {
		if p.Type == "state-timeline" && strings.Contains(p.Targets[0].Expr, "tripswitch_breaker_state") {
			stateTimeline = true
		}
	}
	if !stateTimeline {
		t.Error("breaker states are not drawn as a state timeline")
	}
}
