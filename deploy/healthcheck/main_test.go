package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestProbeLocalServer is the compose stack's check of the tripswitch
// service: the project's status, read with the project key from the
// environment, answers 200 once the server is up with that project.
func TestProbeLocalServer(t *testing.T) {
	srv := localservertest.Start(t)
	c := srv.Credentials()
	statusURL := c.BaseURL + "/v1/projects/" + c.ProjectID + "/status"

	var stderr bytes.Buffer
	if got := probe([]string{"-bearer-env", "TRIPSWITCH_API_KEY", statusURL}, env("TRIPSWITCH_API_KEY", c.ProjectKey), &stderr); got != 0 {
		t.Errorf("status %d, want 0 (healthy); stderr %q", got, stderr.String())
	}
	stderr.Reset()
	const wrong = "eb_pk_wrong_key_0123456789abcdef"
	if got := probe([]string{"-bearer-env", "K", statusURL}, env("K", wrong), &stderr); got != 1 {
		t.Errorf("wrong key: status %d, want 1", got)
	}
	if strings.Contains(stderr.String(), wrong) {
		t.Errorf("stderr shows the token: %q", stderr.String())
	}
	stderr.Reset()
	if got := probe([]string{c.BaseURL + "/v1/projects/proj_missing/status"}, env(), &stderr); got != 1 {
		t.Errorf("no key: status %d, want 1", got)
	}
}

func TestProbeUnhealthy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/metrics"
	ln.Close()

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()

	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want int
	}{
		{"healthy", []string{ok.URL}, env(), 0},
		{"nothing listens", []string{closedURL}, env(), 1},
		{"503", []string{failing.URL}, env(), 1},
		{"no URL", nil, env(), 2},
		{"not http", []string{"ftp://x/"}, env(), 2},
		{"empty token variable", []string{"-bearer-env", "NOPE", ok.URL}, env(), 2},
		{"bad timeout", []string{"-timeout", "0s", ok.URL}, env(), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := probe(tc.args, tc.env, &stderr); got != tc.want {
				t.Errorf("status %d, want %d; stderr %q", got, tc.want, stderr.String())
			}
		})
	}
}
