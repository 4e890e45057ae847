package deploy

import (
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
)

// TestComposeHealthchecks checks that every service another one waits for
// with condition service_healthy has a healthcheck, and that every
// healthcheck can run in its image: a probe the Dockerfile puts there (the images have no shell or
// curl), pointed at the port the service listens on. The demo used to
// start before the server listened and exit after 1.5 s.
func TestComposeHealthchecks(t *testing.T) {
	c := loadCompose(t)
	if got := c.dependsOn("demo")["tripswitch"]; got != "service_healthy" {
		t.Errorf("demo waits for tripswitch with condition %q, want service_healthy", got)
	}
	waitedFor := map[string]bool{}
	for name := range c.mapping("services") {
		for dep, cond := range c.dependsOn(name) {
			switch cond {
			case "service_healthy":
				waitedFor[dep] = true
			case "service_started", "service_completed_successfully":
			default:
				t.Errorf("%s depends on %s with unknown condition %q", name, dep, cond)
			}
		}
	}
	for svc := range c.mapping("services") {
		switch {
		case c.has("services", svc, "healthcheck"):
			checkHealthcheck(t, c, svc)
		case waitedFor[svc]:
			t.Errorf("services wait for %s to be healthy, but it has no healthcheck", svc)
		}
	}
}

// checkHealthcheck checks one built service's healthcheck.
func checkHealthcheck(t *testing.T, c compose, svc string) {
	t.Helper()
	test := c.strings("services", svc, "healthcheck", "test")
	if len(test) < 2 || test[0] != "CMD" {
		t.Errorf("%s healthcheck %q: want the exec form [\"CMD\", probe, args…] (the image has no shell)", svc, test)
		return
	}
	if !c.has("services", svc, "build") {
		t.Errorf("%s: a healthcheck on an image this repository does not build cannot be checked here", svc)
		return
	}
	files := imageFiles(t, c.str("services", svc, "build", "dockerfile"))
	if pkg := files[test[1]]; pkg != "./deploy/healthcheck" {
		t.Errorf("%s healthcheck runs %s, which its Dockerfile does not build from ./deploy/healthcheck (image files: %v)", svc, test[1], files)
	}
	args := test[2:]
	rawURL := args[len(args)-1]
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		t.Fatalf("%s healthcheck: last argument %q is not a URL", svc, rawURL)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" {
		t.Errorf("%s healthcheck probes %s; a probe runs inside the container and must use loopback", svc, h)
	}
	var listenPort string
	switch svc {
	case "tripswitch":
		env := c.env(svc)
		_, listenPort = hostPort(t, "tripswitch TRIPSWITCH_LOCAL_ADDR", env["TRIPSWITCH_LOCAL_ADDR"])
		if want := "/v1/projects/" + env["TRIPSWITCH_PROJECT_ID"] + "/status"; u.Path != want {
			t.Errorf("tripswitch healthcheck reads %s, want %s (the status of the demo's project)", u.Path, want)
		}
		i := slices.Index(args, "-bearer-env")
		if i < 0 || i+1 >= len(args) || env[args[i+1]] != env["TRIPSWITCH_API_KEY"] || env[args[i+1]] == "" {
			t.Errorf("tripswitch healthcheck %q must send the project key with -bearer-env TRIPSWITCH_API_KEY", args)
		}
	case "demo":
		_, listenPort = hostPort(t, "demo -metrics-addr", c.flag("demo", "-metrics-addr"))
		if path.Base(u.Path) != "metrics" {
			t.Errorf("demo healthcheck reads %s, want the metrics endpoint", u.Path)
		}
	default:
		t.Errorf("no rule for the healthcheck of %s", svc)
		return
	}
	if u.Port() != listenPort {
		t.Errorf("%s healthcheck probes port %s, but the service listens on %s", svc, u.Port(), listenPort)
	}
	for _, k := range []string{"interval", "timeout", "retries"} {
		if !c.has("services", svc, "healthcheck", k) {
			t.Errorf("%s healthcheck has no %s", svc, k)
		}
	}
	if strings.Contains(strings.Join(test, " "), "eb_pk_") {
		t.Errorf("%s healthcheck command holds a key; pass it with -bearer-env", svc)
	}
}
