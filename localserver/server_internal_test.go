package localserver

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestReachableAddr(t *testing.T) {
	for _, tc := range []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8787}, "127.0.0.1:8787"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8787}, "[::1]:8787"},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 1}, "127.0.0.2:1"},
	} {
		if got := reachableAddr(tc.addr); got != tc.want {
			t.Errorf("reachableAddr(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestCredentialsHideSecrets(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Credentials()
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := sprintf(f, c)
		for _, secret := range []string{c.AdminKey, c.ProjectKey, c.IngestSecret} {
			if contains(out, secret) {
				t.Fatalf("%s of Credentials shows a secret: %s", f, out)
			}
		}
	}
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }
func contains(s, sub string) bool         { return strings.Contains(s, sub) }

func TestEventHistoryIsBounded(t *testing.T) {
	p := newProject(1, "proj_x", "ws_x", "x", randomHex(32), time.Now(), 10, 1<<20)
	for i := range maxEventsPerProject + 5 {
		p.appendEvent(&event{seq: uint64(i + 1)})
	}
	if n := len(p.events); n > maxEventsPerProject || n < maxEventsPerProject*9/10 {
		t.Fatalf("%d events kept", n)
	}
	if last := p.events[len(p.events)-1].seq; last != maxEventsPerProject+5 {
		t.Fatalf("newest event %d was dropped", last)
	}
}

func TestRateLimiterForgetsIdleScopes(t *testing.T) {
	l := newRateLimiter(1, 1)
	now := time.Now()
	for i := range maxLimiterScopes + 10 {
		if err := l.allow(fmt.Sprint("k", i), now); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Millisecond)
	}
	if len(l.buckets) > maxLimiterScopes {
		t.Fatalf("%d buckets kept", len(l.buckets))
	}
}

func TestSampleQueueKeepsTheNewestWithinCountAndBytes(t *testing.T) {
	small := Sample{RouterID: "r", Metric: "m"}
	size := sampleSize(&small)
	q := sampleQueue{limit: 100, maxBytes: 10 * size}
	for i := range 1000 {
		s := small
		s.Value = float64(i)
		q.add(s)
		if q.n > 10 || q.bytes > q.maxBytes {
			t.Fatalf("after %d adds: %d samples, %d bytes", i+1, q.n, q.bytes)
		}
	}
	got := q.all()
	for i, s := range got {
		if s.Value != float64(990+i) {
			t.Fatalf("kept %v, want the ten newest in order", got)
		}
	}
	// A sample larger than the bound is kept alone, as the newest.
	big := Sample{RouterID: "r", Metric: "m", Tags: map[string]string{"k": string(make([]byte, 20*size))}}
	q.add(big)
	if q.n != 1 || q.all()[0].Tags == nil {
		t.Fatalf("%d samples after one larger than the bound", q.n)
	}
	// The count limit applies across ring growth and wrap-around.
	q = sampleQueue{limit: 100, maxBytes: 1 << 30}
	for i := range 1000 {
		q.add(Sample{Value: float64(i)})
	}
	if got := q.all(); len(got) != 100 || got[0].Value != 900 || got[99].Value != 999 {
		t.Fatalf("kept %d samples from %v to %v", len(got), got[0].Value, got[len(got)-1].Value)
	}
}
