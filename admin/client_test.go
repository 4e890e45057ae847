package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/version"
)

func TestNewClientValidation(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		opts    []Option
		wantErr string // substring; "" means success
	}{
		{"default", testKey, nil, ""},
		{"other key prefix accepted", "local-dev-key", nil, ""},
		{"empty key", "", nil, "API key is empty"},
		{"key with newline", "eb_admin_x\n", nil, "whitespace"},
		{"https remote", testKey, []Option{WithBaseURL("https://example.com/")}, ""},
		{"http loopback v4", testKey, []Option{WithBaseURL("http://127.0.0.1:8080")}, ""},
		{"http loopback v6", testKey, []Option{WithBaseURL("http://[::1]:8080")}, ""},
		{"http localhost", testKey, []Option{WithBaseURL("http://localhost:8080")}, ""},
		{"http localhost in capitals", testKey, []Option{WithBaseURL("http://LOCALHOST:8080")}, ""},
		{"http name under localhost", testKey, []Option{WithBaseURL("http://api.Localhost:8080")}, ""},
		{"http remote refused", testKey, []Option{WithBaseURL("http://api.example.com")}, "WithInsecureHTTP"},
		{"http remote allowed", testKey, []Option{WithBaseURL("http://api.example.com"), WithInsecureHTTP()}, ""},
		{"not a URL", testKey, []Option{WithBaseURL("://nope")}, "not a URL"},
		{"relative", testKey, []Option{WithBaseURL("/v1")}, "http or https"},
		{"ftp", testKey, []Option{WithBaseURL("ftp://example.com")}, "http or https"},
		{"no host", testKey, []Option{WithBaseURL("https://")}, "no host"},
		{"user info", testKey, []Option{WithBaseURL("https://user:pw@example.com")}, "user information"},
		{"query", testKey, []Option{WithBaseURL("https://example.com?x=1")}, "query"},
		{"nil http client", testKey, []Option{WithHTTPClient(nil)}, "nil"},
		{"user agent newline", testKey, []Option{WithUserAgentSuffix("a\r\nX: y")}, "line break"},
		{"nil option ignored", testKey, []Option{nil}, ""},
		{"negative retry attempts", testKey, []Option{WithRetryPolicy(RetryPolicy{MaxAttempts: -1})}, "MaxAttempts"},
		{"negative retry delay", testKey, []Option{WithRetryPolicy(RetryPolicy{BaseDelay: -1})}, "BaseDelay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.key, tt.opts...)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("NewClient: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidOption) {
				t.Errorf("err = %v, want it to match ErrInvalidOption", err)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

func TestBaseURLKeepsPrefix(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"workspaces":[]}`)
	})
	c, _ := newTestClient(t, f.URL+"/api/")
	if c.BaseURL() != f.URL+"/api" {
		t.Errorf("BaseURL() = %q", c.BaseURL())
	}
	if _, err := c.ListWorkspaces(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[0].Path; got != "/api/v1/workspaces" {
		t.Errorf("path %q", got)
	}
	d, _ := NewClient(testKey)
	if d.BaseURL() != DefaultBaseURL {
		t.Errorf("default BaseURL() = %q", d.BaseURL())
	}
}

func TestRequestHeadersAndOptions(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"project_id":"p1","name":"n"}`)
	})
	c, _ := newTestClient(t, f.URL, WithUserAgentSuffix("deploy/1.2"))
	_, err := c.UpdateProject(context.Background(), "p1", UpdateProjectInput{Name: Ptr("n")},
		WithIdempotencyKey("idem-1"), WithRequestID("req-7"), WithHeader("X-Team", "payments"), WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	h := f.requests()[0].Header
	want := map[string]string{
		"Authorization":   "Bearer " + testKey,
		"Idempotency-Key": "idem-1",
		"X-Request-Id":    "req-7",
		"X-Team":          "payments",
		"Content-Type":    "application/json",
		"Accept":          "application/json",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if ua := h.Get("User-Agent"); ua != "tripswitch-go-admin/"+version.Version+" deploy/1.2" {
		t.Errorf("User-Agent %q", ua)
	}
}

func TestGetSendsNoBodyAndNoIdempotencyKey(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"workspaces":[]}`)
	})
	c, _ := newTestClient(t, f.URL)
	ws, err := c.ListWorkspaces(context.Background())
	if err != nil || ws == nil || len(ws) != 0 {
		t.Fatalf("ListWorkspaces = %v, %v; want an empty non-nil list", ws, err)
	}
	r := f.requests()[0]
	if len(r.Body) != 0 || r.Header.Get("Content-Type") != "" || r.Header.Get("Idempotency-Key") != "" {
		t.Errorf("GET sent body %q, content type %q, idempotency key %q", r.Body, r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"))
	}
}

func TestInvalidRequestOptionsSendNothing(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{}`)
	})
	c, _ := newTestClient(t, f.URL)
	for _, o := range []RequestOption{
		WithHeader("Authorization", "Bearer other"),
		WithHeader("idempotency-key", "x"),
		WithHeader("", "x"),
		WithHeader("X-A", "b\nc"),
		WithIdempotencyKey(""),
		WithRequestID(" "),
		WithTimeout(0),
	} {
		_, err := c.GetProject(context.Background(), "p1", o)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent with invalid options", n)
	}
}

func TestEmptyIDsAreRefusedBeforeSending(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, `{}`) })
	c, _ := newTestClient(t, f.URL)
	ctx := context.Background()
	calls := map[string]func() error{
		"project ID": func() error { _, err := c.GetProject(ctx, ""); return err },
		"breaker ID": func() error { _, err := c.GetBreaker(ctx, "p", " "); return err },
		"router ID":  func() error { return c.DeleteRouter(ctx, "p", "") },
		"channel ID": func() error { return c.TestNotificationChannel(ctx, "p", "") },
		"key ID":     func() error { return c.DeleteProjectKey(ctx, "p", "") },
		"breaker IDs": func() error {
			return c.LinkBreakers(ctx, "p", "r", nil)
		},
		"workspace ID": func() error { return c.DeleteWorkspace(ctx, "", "x") },
		"context": func() error {
			//lint:ignore SA1012 checking the nil-context guard
			_, err := c.ListWorkspaces(nil)
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument naming it", name, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestPathArgumentsAreEscaped(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"id":"x"}`)
	})
	c, _ := newTestClient(t, f.URL)
	if _, err := c.GetBreaker(context.Background(), "p/1", "a b?c"); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if r.Path != "/v1/projects/p/1/breakers/a b?c" || r.RawQuery != "" {
		t.Errorf("decoded path %q query %q", r.Path, r.RawQuery)
	}
}

func TestUpdateInputsDistinguishUnsetFromZero(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"empty breaker update", UpdateBreakerInput{}, `{}`},
		{"zero threshold", UpdateBreakerInput{Threshold: Ptr(0.0)}, `{"threshold":0}`},
		{"disable backoff", UpdateBreakerInput{HalfOpenBackoffEnabled: Ptr(false), MinCount: Ptr(int64(0))}, `{"min_count":0,"half_open_backoff_enabled":false}`},
		{"clear metadata", UpdateBreakerInput{Metadata: map[string]string{}}, `{"metadata":{}}`},
		{"kind and op", UpdateBreakerInput{Kind: Ptr(KindP95), Op: Ptr(OpGte)}, `{"kind":"p95","op":"gte"}`},
		{"project clear webhook", UpdateProjectInput{SlackWebhookURL: Ptr("")}, `{"slack_webhook_url":""}`},
		{"project disable signing", UpdateProjectInput{EnableSignedIngest: Ptr(false)}, `{"enable_signed_ingest":false}`},
		{"router disable", UpdateRouterInput{Enabled: Ptr(false)}, `{"enabled":false}`},
		{"channel events cleared", UpdateNotificationChannelInput{Events: []ChannelEvent{}}, `{"events":[]}`},
		{"workspace rename", UpdateWorkspaceInput{Name: Ptr("x")}, `{"name":"x"}`},
		{"create breaker minimal", CreateBreakerInput{Name: "b", Metric: "m", Kind: KindCount, Op: OpGt}, `{"name":"b","metric":"m","kind":"count","op":"gt","threshold":0}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: %s (%v), want %s", tt.name, got, err, tt.want)
		}
	}
}

func TestRedirectToPlainHTTPRemoteIsRefused(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, "http://tripswitch.invalid/v1/workspaces", http.StatusTemporaryRedirect)
	})
	c, _ := newTestClient(t, f.URL, WithoutRetries())
	_, err := c.ListWorkspaces(context.Background())
	if !errors.Is(err, ErrTransport) || !strings.Contains(err.Error(), "refusing redirect") {
		t.Fatalf("err = %v, want a refused redirect", err)
	}
}

func TestSecretsAreHiddenWhenPrinted(t *testing.T) {
	c, _ := NewClient(testKey)
	s := IngestSecret{Secret: strings.Repeat("ab", 32)}
	k := CreatedProjectKey{ID: "key_1", Key: "eb_pk_topsecret", KeyPrefix: "eb_pk_to"}
	for _, text := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", c, c, c),
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v", s, s, s), fmt.Sprintf("%v", &s),
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v", k, k, k),
	} {
		for _, secret := range []string{testKey, s.Secret, k.Key} {
			if strings.Contains(text, secret) {
				t.Errorf("%q shows a secret", text)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(k), "key_1") {
		t.Errorf("CreatedProjectKey prints as %q, want its ID", k)
	}
}

func TestEveryProjectCallRefusesAnEmptyProjectID(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, `{}`) })
	c, _ := newTestClient(t, f.URL)
	ctx := context.Background()
	ignore := func(_ any, err error) error { return err }
	calls := []func() error{
		func() error { return ignore(c.GetProject(ctx, "")) },
		func() error { return ignore(c.UpdateProject(ctx, "", UpdateProjectInput{})) },
		func() error { return c.DeleteProject(ctx, "", "x") },
		func() error { return ignore(c.RotateIngestSecret(ctx, "")) },
		func() error { return ignore(c.ListProjectKeys(ctx, "")) },
		func() error { return ignore(c.CreateProjectKey(ctx, "", CreateProjectKeyInput{})) },
		func() error { return c.DeleteProjectKey(ctx, "", "k") },
		func() error { return ignore(c.ListBreakers(ctx, "", ListBreakersParams{})) },
		func() error { return ignore(c.CreateBreaker(ctx, "", CreateBreakerInput{})) },
		func() error { return ignore(c.SyncBreakers(ctx, "", nil)) },
		func() error { return ignore(c.GetBreaker(ctx, "", "b")) },
		func() error { return ignore(c.UpdateBreaker(ctx, "", "b", UpdateBreakerInput{})) },
		func() error { return c.DeleteBreaker(ctx, "", "b") },
		func() error { return ignore(c.GetBreakerState(ctx, "", "b")) },
		func() error { return ignore(c.BatchBreakerStates(ctx, "", BatchStateInput{})) },
		func() error { return c.UpdateBreakerMetadata(ctx, "", "b", nil) },
		func() error { return ignore(c.ListRouters(ctx, "", ListRoutersParams{})) },
		func() error { return ignore(c.CreateRouter(ctx, "", CreateRouterInput{})) },
		func() error { return ignore(c.GetRouter(ctx, "", "r")) },
		func() error { return ignore(c.UpdateRouter(ctx, "", "r", UpdateRouterInput{})) },
		func() error { return c.DeleteRouter(ctx, "", "r") },
		func() error { return c.LinkBreakers(ctx, "", "r", []string{"b"}) },
		func() error { return c.UnlinkBreaker(ctx, "", "r", "b") },
		func() error { return c.UpdateRouterMetadata(ctx, "", "r", nil) },
		func() error { return ignore(c.ListNotificationChannels(ctx, "", ListNotificationChannelsParams{})) },
		func() error { return ignore(c.CreateNotificationChannel(ctx, "", CreateNotificationChannelInput{})) },
		func() error { return ignore(c.GetNotificationChannel(ctx, "", "ch")) },
		func() error {
			return ignore(c.UpdateNotificationChannel(ctx, "", "ch", UpdateNotificationChannelInput{}))
		},
		func() error { return c.DeleteNotificationChannel(ctx, "", "ch") },
		func() error { return c.TestNotificationChannel(ctx, "", "ch") },
		func() error { return ignore(c.ListEvents(ctx, "", ListEventsParams{})) },
	}
	for i, call := range calls {
		if err := call(); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "project ID is empty") {
			t.Errorf("call %d: err = %v", i, err)
		}
	}
	for _, err := range c.ListEventsAll(ctx, "", ListEventsParams{}) {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("iterator err = %v", err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestWithTimeoutBoundsTheCall(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.Method == http.MethodGet {
			writeJSON(w, 200, `{"project_id":"p1","name":"slow"}`)
			return
		}
		select { // the DELETE hangs
		case <-r.Context().Done():
		case <-release:
		}
	})
	c, _ := newTestClient(t, f.URL)
	err := c.DeleteProject(context.Background(), "p1", "slow", WithTimeout(100*time.Millisecond))
	if !errors.Is(err, ErrTransport) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a transport failure from the deadline", err)
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Attempts != 1 {
		t.Errorf("retried after the call's deadline: %d attempts", apiErr.Attempts)
	}
}

func TestRedirectsDeferToTheCallersPolicy(t *testing.T) {
	target := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, `{"workspaces":[]}`) })
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	var seen []string
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		seen = append(seen, req.URL.String())
		return nil
	}}
	c, err := NewClient(testKey, WithBaseURL(f.URL), WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListWorkspaces(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || len(target.requests()) != 1 {
		t.Errorf("caller's policy saw %v; target got %d requests", seen, len(target.requests()))
	}
}
