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
