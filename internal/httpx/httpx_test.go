package httpx

import (
	"io"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "LocalHost": true,
		"api.localhost": true, "API.LocalHost": true,
		"127.0.0.1": true, "127.3.4.5": true, "::1": true,
		"example.com": false, "localhost.example.com": false, "10.0.0.1": false,
		"": false, "notlocalhost": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseBaseURL(t *testing.T) {
	tests := []struct {
		raw     string
		wantErr string // substring; "" means valid
	}{
		{"https://api.example.com", ""},
		{"http://127.0.0.1:8080/prefix/", ""},
		{"://x", "is not a URL"},
		{"ftp://example.com", "must use http or https"},
		{"api.example.com", "must use http or https"},
		{"https://", "has no host"},
		{"https://user:pw@example.com", "must not contain user information"},
		{"https://example.com/?a=1", "must not have a query or fragment"},
		{"https://example.com/#frag", "must not have a query or fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := ParseBaseURL(tt.raw)
			if tt.wantErr == "" {
				if err != nil || u == nil {
					t.Fatalf("ParseBaseURL(%q) = %v, %v; want a URL", tt.raw, u, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseBaseURL(%q) error = %v; want one containing %q", tt.raw, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("error repeats user information: %v", err)
			}
		})
	}
}

func TestPlainHTTPToRemote(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://example.com":      true,
		"http://LOCALHOST:8080":   false,
		"http://127.0.0.1":        false,
		"https://example.com":     false,
		"http://[::1]:9000/base/": false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := PlainHTTPToRemote(u); got != want {
			t.Errorf("PlainHTTPToRemote(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	maxD := time.Duration(math.MaxInt64/int64(time.Second)) * time.Second
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"9223372036854775807", maxD, true}, // would overflow a Duration
		{"9999999999", maxD, true},
		{"99999999999999999999", 0, false}, // beyond int64: neither form
		{now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second, true},
		{"1.5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(timeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(timeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "5", "-3", "9223372036854775807", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when not ok", v, d)
		}
	})
}

type countingBody struct {
	r      io.Reader
	read   int64
	closed bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *countingBody) Close() error { b.closed = true; return nil }

func TestDrainClose(t *testing.T) {
	for _, size := range []int{0, 100, DrainLimit, 4 * DrainLimit} {
		b := &countingBody{r: strings.NewReader(strings.Repeat("x", size))}
		DrainClose(b)
		if !b.closed {
			t.Errorf("size %d: body not closed", size)
		}
		if want := int64(min(size, DrainLimit)); b.read != want {
			t.Errorf("size %d: read %d bytes, want %d", size, b.read, want)
		}
	}
}

func TestExponential(t *testing.T) {
	base, limit := 100*time.Millisecond, 300*time.Millisecond
	for n, want := range map[int]time.Duration{
		0: 100 * time.Millisecond, 1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 300 * time.Millisecond, 4: 300 * time.Millisecond, 1000: 300 * time.Millisecond,
	} {
		if got := Exponential(base, limit, n); got != want {
			t.Errorf("Exponential(n=%d) = %v, want %v", n, got, want)
		}
	}
	// A cap near the largest Duration must not overflow.
	if got := Exponential(time.Second, math.MaxInt64, 100); got != math.MaxInt64 {
		t.Errorf("Exponential with a huge cap = %v, want the cap", got)
	}
}

func TestJitter(t *testing.T) {
	d := 100 * time.Millisecond
	tests := []struct {
		lo, width, u float64
		want         time.Duration
	}{
		{0.5, 0.5, 0, 50 * time.Millisecond},
		{0.5, 0.5, 0.5, 75 * time.Millisecond},
		{0.8, 0.4, 0.5, 100 * time.Millisecond},
		{0.8, 0.4, 0, 80 * time.Millisecond},
		{0.5, 0.5, 1, 50 * time.Millisecond},  // out of range counts as 0
		{0.5, 0.5, -2, 50 * time.Millisecond}, // out of range counts as 0
		{0.5, 0.5, math.NaN(), 50 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Jitter(d, tt.lo, tt.width, tt.u); got != tt.want {
			t.Errorf("Jitter(%v, %v, %v, %v) = %v, want %v", d, tt.lo, tt.width, tt.u, got, tt.want)
		}
	}
	for u := 0.0; u < 1; u += 0.01 {
		if got := Jitter(d, 0.5, 0.5, u); got < d/2 || got >= d {
			t.Fatalf("Jitter(u=%v) = %v, outside [d/2, d)", u, got)
		}
	}
}
