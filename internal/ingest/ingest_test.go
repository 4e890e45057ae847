package ingest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tripswitch-otel/tripswitch-go/internal/ingest"
	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestSendToLocalServer sends a signed batch the local server verifies,
// and one signed with another secret, which it refuses for good.
func TestSendToLocalServer(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	ctx := context.Background()
	samples := []wire.Sample{
		{RouterID: "rtr_1", Metric: "latency", TsMs: time.Now().UnixMilli(), Value: 42.5, OK: true, Tags: wire.NewTags(map[string]string{"env": "prod"}), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{RouterID: "rtr_1", Metric: "latency", TsMs: time.Now().UnixMilli(), Value: 900, OK: false},
	}
	s, err := ingest.NewSender(creds.BaseURL, creds.ProjectID, creds.IngestSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, samples); err != nil {
		t.Fatal(err)
	}
	got := srv.Samples(creds.ProjectID)
	if len(got) != 2 || got[0].Value != 42.5 || got[0].Tags["env"] != "prod" || got[0].TraceID != samples[0].TraceID || got[1].OK {
		t.Fatalf("server received %+v", got)
	}

	other := strings.Repeat("ab", 32)
	bad, err := ingest.NewSender(creds.BaseURL, creds.ProjectID, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Send(ctx, samples)
	var se *ingest.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !se.Permanent() {
		t.Fatalf("wrong secret: err = %v, want a permanent 401", err)
	}
	if strings.Contains(err.Error(), other) || strings.Contains(err.Error(), creds.IngestSecret) {
		t.Errorf("error %q shows a secret", err)
	}
}

func TestStatusErrors(t *testing.T) {
	for _, tt := range []struct {
		status     int
		retryAfter string
		permanent  bool
		wait       time.Duration
	}{
		{http.StatusTooManyRequests, "3", false, 3 * time.Second},
		{http.StatusServiceUnavailable, "", false, 0},
		{http.StatusRequestTimeout, "", false, 0},
		{http.StatusBadRequest, "", true, 0},
		{http.StatusRequestEntityTooLarge, "", true, 0},
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.status)
		}))
		s, err := ingest.NewSender(ts.URL, "proj_1", strings.Repeat("0", 64), nil)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), []wire.Sample{{RouterID: "r", Metric: "m"}})
		ts.Close()
		var se *ingest.StatusError
		if !errors.As(err, &se) || se.Status != tt.status || se.Permanent() != tt.permanent || se.RetryAfter != tt.wait {
			t.Errorf("status %d: err = %#v", tt.status, err)
		}
	}
}

func TestNewSenderRefusesBadInput(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tt := range []struct{ url, project, secret string }{
		{"ftp://x", "proj_1", secret},
		{"http://", "proj_1", secret},
		{"http://x", "", secret},
		{"http://x", "proj_1", "short"},
		{"http://x", "proj_1", secret[:63] + "z"},
	} {
		_, err := ingest.NewSender(tt.url, tt.project, tt.secret, nil)
		if err == nil {
			t.Errorf("NewSender(%q, %q, …) accepted", tt.url, tt.project)
		} else if tt.secret != secret && !errors.Is(err, wire.ErrInvalidSecret) {
			t.Errorf("secret %q: err = %v, want wire.ErrInvalidSecret", tt.secret, err)
		}
	}
	// A secret read from a file or the environment may end with a newline.
	for _, s := range []string{secret, "ik_" + secret, " " + secret + "\n"} {
		if _, err := ingest.NewSender("http://x", "proj_1", s, nil); err != nil {
			t.Errorf("secret %q refused: %v", s, err)
		}
	}
}
