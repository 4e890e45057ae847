// Package ingest sends batches of samples to a Tripswitch project's
// signed ingest endpoint, one request per call, without retrying: the
// caller owns queueing and retry. Batches are encoded and signed by
// package wire, as the runtime client's are.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// StatusError is a batch the server answered with a status other than
// 2xx. Permanent reports whether sending it again cannot succeed.
type StatusError struct {
	Status     int
	RetryAfter time.Duration // from Retry-After, 0 when absent
}

func (e *StatusError) Error() string {
	return "tripswitch ingest answered " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
}

// Permanent reports whether the batch would be refused again (a 4xx other
// than 408 and 429).
func (e *StatusError) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests && e.Status != http.StatusRequestTimeout
}

// Sender posts signed batches. It is safe for concurrent use.
type Sender struct {
	url      string
	key      []byte
	http     *http.Client
	now      func() time.Time
	encoders sync.Pool // *wire.Encoder
}

// NewSender returns a Sender for the project at baseURL (such as
// "https://api.tripswitch.dev"), signing with the ingest secret.
func NewSender(baseURL, projectID, secret string, client *http.Client) (*Sender, error) {
	key, err := wire.ParseSecret(strings.TrimSpace(secret))
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an http or https URL", baseURL)
	}
	if projectID == "" {
		return nil, errors.New("project ID is empty")
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Sender{
		url:  strings.TrimRight(baseURL, "/") + "/v1/projects/" + url.PathEscape(projectID) + "/ingest",
		key:  key,
		http: client,
		now:  time.Now,
	}, nil
}

// Send posts samples as one signed batch and returns nil on a 2xx, a
// *StatusError on another status, and the transport's error otherwise.
func (s *Sender) Send(ctx context.Context, samples []wire.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	enc, _ := s.encoders.Get().(*wire.Encoder)
	if enc == nil {
		enc = wire.NewEncoder(s.key)
	}
	defer s.encoders.Put(enc)
	body, err := enc.Encode(samples, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("encoding batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body.Body))
	if err != nil {
		return err
	}
	body.SetHeaders(req.Header)
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &StatusError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
