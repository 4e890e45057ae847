package localserver_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

// stallIngest opens a connection that announces an ingest body of size
// bytes, sends sent of them and stalls. It returns the connection, whose
// reads see the server's answer.
func stallIngest(t *testing.T, srv *localserver.Server, size, sent int) net.Conn {
	t.Helper()
	c := srv.Credentials()
	u, _ := url.Parse(c.BaseURL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /v1/projects/%s/ingest HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"+
		"X-EB-Timestamp: %d\r\nX-EB-Signature: v1=%s\r\nContent-Length: %d\r\n\r\n%s",
		c.ProjectID, time.Now().UnixMilli(), strings.Repeat("0", 64), size, strings.Repeat("x", sent))
	return conn
}

// readAnswer reads the response on conn and reports whether the server then
// closed the connection. The read deadline only guards against a hang.
func readAnswer(t *testing.T, conn net.Conn) (*http.Response, bool) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp, err == io.EOF
}

func TestStalledBodyIsAnsweredAndClosed(t *testing.T) {
	srv := localservertest.Start(t, func(c *localserver.Config) { c.BodyReadTimeout = 50 * time.Millisecond })
	conn := stallIngest(t, srv, 1000, 999)
	resp, closed := readAnswer(t, conn)
	if resp.StatusCode != http.StatusRequestTimeout || !closed {
		t.Fatalf("stalled body: status %d, closed %v; want 408 and the connection closed", resp.StatusCode, closed)
	}
	// The admission it held is returned: a complete request is answered.
	wantStatus(t, call(t, "POST", projectURL(srv, "/ingest"), "", []byte("{}"), "X-EB-Timestamp", "1", "X-EB-Signature", "v1=00"), http.StatusUnauthorized)
}

func TestStalledAdminBodyIsAnsweredAndClosed(t *testing.T) {
	srv := localservertest.Start(t, func(c *localserver.Config) { c.BodyReadTimeout = 50 * time.Millisecond })
	c := srv.Credentials()
	u, _ := url.Parse(c.BaseURL)
	conn, err := net.Dial("tcp", u.Host)
	must(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/workspaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{\"name\":", c.AdminKey)
	resp, closed := readAnswer(t, conn)
	if resp.StatusCode != http.StatusRequestTimeout || !closed {
		t.Fatalf("stalled body: status %d, closed %v; want 408 and the connection closed", resp.StatusCode, closed)
	}
}

// A body that keeps flowing is not cut off by the deadline of a previous
// request on the same connection, and a stream opened after a request with a
// body is not ended by that body's deadline.
func TestBodyDeadlineIsLiftedOnceTheBodyIsRead(t *testing.T) {
	srv := localservertest.Start(t, func(c *localserver.Config) { c.BodyReadTimeout = 50 * time.Millisecond })
	c := srv.Credentials()
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/workspaces", c.AdminKey, map[string]string{"name": "w"}), http.StatusCreated)
	st := openStream(t, c.BaseURL, c.ProjectID, c.ProjectKey)
	time.Sleep(200 * time.Millisecond) // longer than BodyReadTimeout: the stream must outlive it
	select {
	case <-st.done:
		t.Fatal("stream ended by a body deadline")
	default:
	}
}

func TestPendingBodiesAreCappedByCount(t *testing.T) {
	srv := localservertest.Start(t, func(c *localserver.Config) { c.MaxPendingBodies = 2 })
	stallIngest(t, srv, 1000, 10)
	stallIngest(t, srv, 1000, 10)
	waitFor(t, "both stalled bodies to be admitted", func() bool { return srv.PendingBodies() == 2 })
	// The next body is refused at once with Retry-After.
	r := call(t, "POST", projectURL(srv, "/ingest"), "", []byte("{}"), "X-EB-Timestamp", "1", "X-EB-Signature", "v1=00")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" || r.errCode(t) != "server_busy" {
		t.Fatalf("503 without Retry-After or code: %v %s", r.Header, r.Body)
	}
}

func TestPendingBodiesAreCappedByBytesAndSignedBatchesGetThrough(t *testing.T) {
	srv, clock := start(t, func(c *localserver.Config) { c.MaxPendingBodyBytes = 64 << 10 })
	localservertest.Seed(t, srv, errorRateSeed)
	// Two bodies that announce 30 KiB each hold almost all the room.
	stallIngest(t, srv, 30<<10, 10)
	stallIngest(t, srv, 30<<10, 10)
	waitFor(t, "both stalled bodies to be admitted", func() bool { return srv.PendingBodies() == 2 })
	r := call(t, "POST", projectURL(srv, "/ingest"), "", make([]byte, 20<<10), "X-EB-Timestamp", "1", "X-EB-Signature", "v1=00")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// A signed batch of ordinary size still fits.
	wantStatus(t, ingest(t, srv, clock.Now(), failing(3, "rtr_a", "req", clock.Now())...), http.StatusAccepted)
}
