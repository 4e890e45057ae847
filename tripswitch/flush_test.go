package tripswitch_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestWrongIngestSecretIsNotSilent runs a client with a wrong ingest
// secret against the local server: Flush and Close return a
// *DeliveryError naming the refusal, and Stats shows it.
func TestWrongIngestSecretIsNotSilent(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	wrong := strings.Repeat("0", 64)
	if creds.IngestSecret == wrong {
		wrong = strings.Repeat("1", 64)
	}
	c, err := tripswitch.NewClient(context.Background(), creds.ProjectID,
		tripswitch.WithBaseURL(creds.BaseURL), tripswitch.WithIngestSecret(wrong),
		tripswitch.WithMetadataSyncInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, c)
	if err := c.Report(context.Background(), tripswitch.Sample{RouterID: "rtr_1", Metric: "latency", Value: 1, OK: true}); err != nil {
		t.Fatal(err)
	}
	err = c.Flush(context.Background())
	var de *tripswitch.DeliveryError
	if !errors.As(err, &de) || de.StatusCode != http.StatusUnauthorized || de.Code != "unauthorized" || de.Message == "" || de.Samples != 1 || de.Retrying {
		t.Fatalf("Flush = %#v, want a *DeliveryError: 401 unauthorized with the server's message, 1 sample", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), creds.IngestSecret) {
		t.Fatalf("error shows a secret: %v", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Dropped != 1 || s.Delivered != 0 || !errors.As(s.LastDeliveryError, &de) || de.StatusCode != 401 {
		t.Fatalf("stats %+v", s)
	}
	// A second sample is refused the same way, and Close says so.
	_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "rtr_1", Metric: "latency", Value: 2, OK: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); !errors.As(err, &de) || de.StatusCode != 401 {
		t.Fatalf("Close = %v, want the 401 refusal", err)
	}
}

// refusingServer answers ingest like the local server, but refuses with
// 400 any batch holding a sample whose value is bad, naming it.
type refusingServer struct {
	mu       sync.Mutex
	bad      float64
	accepted []float64
	requests int
}

func (r *refusingServer) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		plain, _ := io.ReadAll(zr)
		var doc struct {
			Samples []struct {
				Value float64 `json:"value"`
			} `json:"samples"`
		}
		if err := json.NewDecoder(bytes.NewReader(plain)).Decode(&doc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		for _, s := range doc.Samples {
			if s.Value == r.bad {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"code":"bad_request","message":"samples[3].tags.k: must be at most 256 characters"}`)
				return
			}
		}
		for _, s := range doc.Samples {
			r.accepted = append(r.accepted, s.Value)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRefusedBatchIsSplit: one sample the server refuses costs only that
// sample, not its batch of 500.
func TestRefusedBatchIsSplit(t *testing.T) {
	rs := &refusingServer{bad: 137}
	srv := rs.start(t)
	c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL(srv.URL),
		tripswitch.WithFlushInterval(time.Hour), tripswitch.WithMetadataSyncInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, c)
	for i := range 500 {
		_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: float64(i), OK: true})
	}
	err = c.Flush(context.Background())
	var de *tripswitch.DeliveryError
	if !errors.As(err, &de) || de.StatusCode != 400 || de.Code != "bad_request" || de.Samples != 1 ||
		!strings.Contains(de.Message, "samples[3].tags.k") {
		t.Fatalf("Flush = %v, want a 400 refusal of 1 sample with the server's code and message", err)
	}
	s := c.Stats()
	checkIdentity(t, s)
	if s.Delivered != 499 || s.Dropped != 1 || s.Buffered != 0 {
		t.Fatalf("stats %+v, want 499 delivered and only the bad sample dropped", s)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.accepted) != 499 {
		t.Fatalf("server accepted %d samples", len(rs.accepted))
	}
	if rs.requests > 1+2*9+2 { // the batch, then two halves per level down to one sample
		t.Fatalf("%d requests to isolate one sample of 500", rs.requests)
	}
	t.Logf("%d requests to isolate one refused sample of 500", rs.requests)
	// The refusal is reported once: the next Flush has nothing to say.
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("second Flush = %v", err)
	}
}

// TestRefusalStatuses: each refusing status drops its batch and is
// returned by Flush with the server's code and message; retryable ones
// keep the samples.
func TestRefusalStatuses(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 413} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(code)
				io.WriteString(w, `{"code":"nope","message":"refused\nwith eb_pk_leaked0123 inside"}`)
			}))
			defer srv.Close()
			c, err := tripswitch.NewClient(context.Background(), "proj_test", tripswitch.WithBaseURL(srv.URL),
				tripswitch.WithFlushInterval(time.Hour), tripswitch.WithMetadataSyncInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			defer closeClient(t, c)
			for range 4 {
				_ = c.Report(context.Background(), tripswitch.Sample{RouterID: "r", Metric: "m", Value: 1, OK: true})
			}
			err = c.Flush(context.Background())
			var de *tripswitch.DeliveryError
			if !errors.As(err, &de) || de.StatusCode != code || de.Code != "nope" || de.Samples != 4 {
				t.Fatalf("Flush = %v", err)
			}
			if strings.Contains(err.Error(), "eb_pk_leaked") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("server text not cleaned: %q", err)
			}
			if s := c.Stats(); s.Dropped != 4 || s.Buffered != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}
