package tripswitch_test

// Start-up: NewClient returns at once on refusals retrying cannot fix, and
// with a working client plus ErrNotSynced while the server is unreachable.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// statusServer answers every request with code.
func statusServer(t *testing.T, code int) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
	t.Cleanup(s.Close)
	return s.URL
}

// closedPort returns the address of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestNewClientRefusalsReturnAtOnce: with context.Background() and the
// default startup timeout, every refusal that retrying cannot fix returns
// an error naming the project and no client (a transient failure would
// return a client and ErrNotSynced after the timeout instead; before, TLS
// failures never returned).
func TestNewClientRefusalsReturnAtOnce(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	tlsSrv := quietTLSServer(t, http.NotFoundHandler()) // a certificate no one trusts

	tests := []struct {
		name    string
		project string
		opts    []tripswitch.Option
		want    []string // substrings of the error
		invalid bool     // ErrInvalidOption
	}{
		{"wrong key (local server)", creds.ProjectID,
			[]tripswitch.Option{tripswitch.WithBaseURL(creds.BaseURL), tripswitch.WithProjectKey("eb_pk_not_this_one_0000")},
			[]string{"401", "not accepted"}, false},
		{"wrong project ID (local server)", "proj_someone_else",
			[]tripswitch.Option{tripswitch.WithBaseURL(creds.BaseURL), tripswitch.WithProjectKey(creds.ProjectKey)},
			[]string{"403", "the project key belongs to another project"}, false},
		{"admin key as project key", creds.ProjectID,
			[]tripswitch.Option{tripswitch.WithBaseURL(creds.BaseURL), tripswitch.WithProjectKey(creds.AdminKey)},
			[]string{"admin key", "WithProjectKey"}, true},
		{"base URL ending in /v1", creds.ProjectID,
			[]tripswitch.Option{tripswitch.WithBaseURL(creds.BaseURL + "/v1/"), tripswitch.WithProjectKey(creds.ProjectKey)},
			[]string{"no such project", `use "` + creds.BaseURL + `"`}, true},
		{"401", "proj_x", []tripswitch.Option{tripswitch.WithBaseURL(statusServer(t, 401)), tripswitch.WithProjectKey(testKey)},
			[]string{"401"}, false},
		{"403", "proj_x", []tripswitch.Option{tripswitch.WithBaseURL(statusServer(t, 403)), tripswitch.WithProjectKey(testKey)},
			[]string{"403", "another project"}, false},
		{"404", "proj_x", []tripswitch.Option{tripswitch.WithBaseURL(statusServer(t, 404)), tripswitch.WithProjectKey(testKey)},
			[]string{"404", "no such project proj_x"}, false},
		{"https to a plain http server", "proj_x", []tripswitch.Option{tripswitch.WithBaseURL(strings.Replace(statusServer(t, 200), "http:", "https:", 1)), tripswitch.WithProjectKey(testKey)},
			[]string{"HTTP response to HTTPS client"}, false},
		{"untrusted TLS certificate", "proj_x", []tripswitch.Option{tripswitch.WithBaseURL(tlsSrv.URL), tripswitch.WithProjectKey(testKey)},
			[]string{"certificate"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tripswitch.NewClient(context.Background(), tt.project, tt.opts...)
			if c != nil {
				closeClient(t, c)
				t.Fatalf("NewClient returned a client (err %v)", err)
			}
			if err == nil || errors.Is(err, tripswitch.ErrNotSynced) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			for _, w := range append(tt.want, tt.project) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if errors.Is(err, tripswitch.ErrInvalidOption) != tt.invalid {
				t.Errorf("errors.Is(err, ErrInvalidOption) = %v, want %v", !tt.invalid, tt.invalid)
			}
			for _, secret := range []string{creds.ProjectKey, creds.AdminKey, testKey} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a key: %v", err)
				}
			}
		})
	}
}

// TestNewClientReturnsNotSyncedWhileUnreachable: transient failures give a
// working client and an error matching ErrNotSynced once the startup
// timeout has passed.
func TestNewClientReturnsNotSyncedWhileUnreachable(t *testing.T) {
	unavailable := statusServer(t, http.StatusServiceUnavailable)
	bases := map[string]string{
		"refused port":      "http://" + closedPort(t),
		"unresolvable host": "https://tripswitch.invalid",
		"503":               unavailable,
	}
	for name, base := range bases {
		t.Run(name, func(t *testing.T) {
			for _, failOpen := range []bool{true, false} {
				c, err := tripswitch.NewClient(context.Background(), "proj_x",
					tripswitch.WithBaseURL(base),
					tripswitch.WithProjectKey(testKey),
					tripswitch.WithFailOpen(failOpen),
					tripswitch.WithStartupTimeout(50*time.Millisecond),
				)
				if !errors.Is(err, tripswitch.ErrNotSynced) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want ErrNotSynced", err)
				}
				if c == nil {
					t.Fatal("no client with ErrNotSynced")
				}
				if !strings.Contains(err.Error(), "proj_x") || !strings.Contains(err.Error(), "startup timeout") {
					t.Errorf("error %q does not name the project and the timeout", err)
				}
				_, runErr := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("checkout"))
				var be *tripswitch.BreakerError
				switch {
				case failOpen && runErr != nil:
					t.Errorf("fail-open client rejected a call: %v", runErr)
				case !failOpen && !(errors.As(runErr, &be) && be.Reason == tripswitch.ReasonUnavailable):
					t.Errorf("fail-closed client: err = %v, want ReasonUnavailable", runErr)
				}
				closeClient(t, c)
			}
		})
	}
}

// TestNewClientZeroStartupTimeout returns at once without waiting.
func TestNewClientZeroStartupTimeout(t *testing.T) {
	c, err := tripswitch.NewClient(context.Background(), "proj_x",
		tripswitch.WithBaseURL("http://"+closedPort(t)), tripswitch.WithProjectKey(testKey),
		tripswitch.WithStartupTimeout(0))
	if !errors.Is(err, tripswitch.ErrNotSynced) || c == nil {
		t.Fatalf("NewClient = %v, %v", c, err)
	}
	closeClient(t, c)
	if _, err := tripswitch.NewClient(context.Background(), "proj_x", tripswitch.WithStartupTimeout(-time.Second)); !errors.Is(err, tripswitch.ErrInvalidOption) {
		t.Fatalf("negative startup timeout: err = %v", err)
	}
}

// TestNotSyncedClientSyncsLater starts a client while the local server is
// unreachable; once it is back, WaitSynced returns and the breaker states
// gate calls.
func TestNotSyncedClientSyncsLater(t *testing.T) {
	srv := startFaultServer(t, "")
	seedFault(t, srv)
	if err := srv.ForceState(faultProject, "payments", "open", 0); err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, srv)
	p.Refuse(true)
	c, err := tripswitch.NewClient(context.Background(), faultProject,
		tripswitch.WithBaseURL(p.URL()),
		tripswitch.WithProjectKey(faultKey),
		tripswitch.WithReconnectBackoff(20*time.Millisecond),
		tripswitch.WithStartupTimeout(100*time.Millisecond),
	)
	if !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("err = %v, want ErrNotSynced", err)
	}
	defer closeClient(t, c)
	gated := func() error {
		_, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("payments"))
		return err
	}
	if err := gated(); err != nil {
		t.Fatalf("before the first sync (fail-open): %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = c.WaitSynced(short)
	cancel()
	if !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("WaitSynced while unreachable: %v", err)
	}
	p.Refuse(false)
	if err := c.WaitSynced(context.Background()); err != nil {
		t.Fatalf("WaitSynced: %v", err)
	}
	if err := gated(); !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("after the sync the open breaker did not reject: %v", err)
	}
}

// TestWaitSyncedReportsALaterRefusal: the server comes back refusing the
// key; WaitSynced returns the refusal instead of waiting.
func TestWaitSyncedReportsALaterRefusal(t *testing.T) {
	f := newFakeServer(t)
	f.streamCode = http.StatusServiceUnavailable
	c, err := tripswitch.NewClient(context.Background(), "proj_test",
		tripswitch.WithBaseURL(f.url()), tripswitch.WithProjectKey(testKey),
		tripswitch.WithReconnectBackoff(10*time.Millisecond), tripswitch.WithStartupTimeout(20*time.Millisecond))
	if !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("err = %v", err)
	}
	defer closeClient(t, c)
	f.mu.Lock()
	f.streamCode = http.StatusUnauthorized
	f.mu.Unlock()
	if err := c.WaitSynced(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("WaitSynced = %v, want the 401", err)
	}
}

// TestNewClientWithoutBreakers: a project with no breakers sends no state
// event; the client counts as synced once the stream is connected and the
// metadata lists no breaker. Before, NewClient never returned.
func TestNewClientWithoutBreakers(t *testing.T) {
	for _, interval := range []time.Duration{0, tripswitch.DefaultMetadataSyncInterval} {
		srv := localservertest.Start(t) // its default project has no breakers
		creds := srv.Credentials()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := tripswitch.NewClient(ctx, creds.ProjectID,
			tripswitch.WithBaseURL(creds.BaseURL),
			tripswitch.WithProjectKey(creds.ProjectKey),
			tripswitch.WithMetadataSyncInterval(interval),
		)
		cancel()
		if err != nil {
			t.Fatalf("metadata interval %v: NewClient: %v", interval, err)
		}
		if err := c.WaitSynced(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A breaker created afterwards arrives over the stream.
		localservertest.Seed(t, srv, localserver.Seed{Breakers: []localserver.SeedBreaker{{
			Name: "late", Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5,
		}}})
		if err := srv.ForceState(creds.ProjectID, "late", "open", 0); err != nil {
			t.Fatal(err)
		}
		waitState(t, c, "late", tripswitch.StateOpen)
		closeClient(t, c)
	}
}

// TestEmptyMetadataDoesNotSyncABusyProject: a connected but silent stream
// of a project whose metadata lists breakers stays unsynced.
func TestEmptyMetadataDoesNotSyncABusyProject(t *testing.T) {
	f := newFakeServer(t)
	f.silent = true
	f.metaBody["breakers"] = `{"breakers":[{"id":"brk_1","name":"checkout"}]}`
	c, err := tripswitch.NewClient(context.Background(), "proj_test",
		tripswitch.WithBaseURL(f.url()), tripswitch.WithProjectKey(testKey),
		tripswitch.WithFailOpen(false), tripswitch.WithStartupTimeout(200*time.Millisecond))
	if !errors.Is(err, tripswitch.ErrNotSynced) {
		t.Fatalf("err = %v, want ErrNotSynced", err)
	}
	defer closeClient(t, c)
	if f.hits("breakers") == 0 {
		t.Fatal("metadata was never asked")
	}
	f.send("checkout", "closed", 1)
	if err := c.WaitSynced(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestNoProjectKeyWarnsOnce: without a project key nothing is gated; the
// client says so once.
func TestNoProjectKeyWarnsOnce(t *testing.T) {
	logs, logger := captureLogs()
	c, err := tripswitch.NewClient(context.Background(), "proj_x",
		tripswitch.WithBaseURL("http://"+closedPort(t)), tripswitch.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := tripswitch.Execute(c, context.Background(), func() (int, error) { return 1, nil }, tripswitch.WithBreakers("checkout")); err != nil {
			t.Fatal(err)
		}
	}
	closeClient(t, c)
	if n := strings.Count(logs(), "no project key"); n != 1 {
		t.Fatalf("%d warnings about the missing key, want 1:\n%s", n, logs())
	}
}

// TestRedirectLeavingTheOriginIsRefused: an https server redirecting the
// stream to plain http must not receive the key on the second hop.
func TestRedirectLeavingTheOriginIsRefused(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(plain.Close)
	secure := quietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	c, err := tripswitch.NewClient(context.Background(), "proj_x",
		tripswitch.WithBaseURL(secure.URL),
		tripswitch.WithProjectKey(testKey),
		tripswitch.WithHTTPClient(secure.Client()),
		tripswitch.WithStartupTimeout(time.Minute),
	)
	if c != nil {
		closeClient(t, c)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Fatalf("the redirect target received %d requests (Authorization sent: %v)", len(leaked), leaked[0] != "")
	}
	if err == nil || !strings.Contains(err.Error(), "refusing a redirect") || c != nil {
		t.Fatalf("NewClient = %v, %v; want a refused redirect", c, err)
	}
}

// TestRedirectWithinTheOriginIsFollowed: a redirect to another path of the
// same server still works.
func TestRedirectWithinTheOriginIsFollowed(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{`{"breaker":"checkout","state":"open","allow_rate":0}`}
	mux := http.NewServeMux()
	mux.HandleFunc("/old/v1/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.TrimPrefix(r.URL.Path, "/old"), http.StatusTemporaryRedirect)
	})
	mux.Handle("/", f.srv.Config.Handler)
	front := httptest.NewServer(mux)
	t.Cleanup(front.Close)
	c, err := tripswitch.NewClient(context.Background(), "proj_test",
		tripswitch.WithBaseURL(front.URL+"/old"), tripswitch.WithProjectKey(testKey))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, c)
	if st, _ := c.State("checkout"); st.State != tripswitch.StateOpen {
		t.Fatalf("state %v after a same-origin redirect", st.State)
	}
}

func captureLogs() (read func() string, logger *slog.Logger) {
	var mu sync.Mutex
	var buf bytes.Buffer
	logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}, logger
}

// quietTLSServer is an httptest TLS server that does not log refused
// handshakes.
func quietTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}
