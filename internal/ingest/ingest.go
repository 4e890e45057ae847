// Package ingest sends batches of samples to a Tripswitch project's
// signed ingest endpoint, one request per call, without retrying: the
// caller owns queueing and retry.
package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sample is one sample as the ingest endpoint takes it.
type Sample struct {
	RouterID string            `json:"router_id"`
	Metric   string            `json:"metric"`
	TsMs     int64             `json:"ts_ms"`
	Value    float64           `json:"value"`
	OK       bool              `json:"ok"`
	Tags     map[string]string `json:"tags,omitempty"`
	TraceID  string            `json:"trace_id,omitempty"`
}

// ErrInvalidSecret reports an ingest secret that is not 64 hex characters
// (after an optional "ik_" prefix). The secret itself is never shown.
var ErrInvalidSecret = errors.New("ingest secret must be 64 hex characters (an optional ik_ prefix is stripped)")

// ParseSecret validates an ingest secret and returns its key bytes.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "ik_")
	if len(s) != 64 {
		return nil, ErrInvalidSecret
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

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
	url  string
	key  []byte
	http *http.Client
	now  func() time.Time
	bufs sync.Pool
}

// NewSender returns a Sender for the project at baseURL (such as
// "https://api.tripswitch.dev"), signing with the ingest secret.
func NewSender(baseURL, projectID, secret string, client *http.Client) (*Sender, error) {
	key, err := ParseSecret(secret)
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

type buffers struct {
	json bytes.Buffer
	gz   bytes.Buffer
	zw   *gzip.Writer
}

// Send posts samples as one signed batch and returns nil on a 2xx, a
// *StatusError on another status, and the transport's error otherwise.
func (s *Sender) Send(ctx context.Context, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	b, _ := s.bufs.Get().(*buffers)
	if b == nil {
		b = &buffers{}
		b.zw = gzip.NewWriter(&b.gz)
	}
	defer s.bufs.Put(b)
	b.json.Reset()
	b.gz.Reset()
	b.zw.Reset(&b.gz)
	if err := json.NewEncoder(&b.json).Encode(struct {
		Samples []Sample `json:"samples"`
	}{samples}); err != nil {
		return fmt.Errorf("encoding batch: %w", err)
	}
	if _, err := b.zw.Write(b.json.Bytes()); err != nil {
		return err
	}
	if err := b.zw.Close(); err != nil {
		return err
	}
	body := b.gz.Bytes()
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-EB-Timestamp", ts)
	req.Header.Set("X-EB-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
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
