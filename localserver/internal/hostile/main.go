// Command hostile measures how a tripswitch-local binary holds up under
// hostile input, on loopback, and prints the figures. Each case starts its
// own server process with -addr 127.0.0.1:0 and stops it at the end:
//
//	go build -o /tmp/tripswitch-local ./cmd/tripswitch-local
//	go run ./localserver/internal/hostile -bin /tmp/tripswitch-local -case slowbody
//	go run ./localserver/internal/hostile -bin /tmp/tripswitch-local -case farfuture
//	go run ./localserver/internal/hostile -bin /tmp/tripswitch-local -case farfuture -ahead 4m
//	go run ./localserver/internal/hostile -bin /tmp/tripswitch-local -case tags
//
// slowbody opens -n connections (60) that each announce a 5 MiB ingest body,
// send all but its last byte with a made-up signature and stall; it reports
// the server's RSS, whether a signed batch sent meanwhile is accepted, and
// when the server has closed every connection (bounded by -limit).
// farfuture sends ten failures stamped -ahead (a year) in the future to one
// breaker and ten current failures to a control breaker, and reports how
// long each stays open. tags sends -n samples (100,000) that each carry 32
// tags of 128-character keys and 256-character values, and reports the RSS.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type creds map[string]string

// startServer runs bin and reads the export lines it prints.
func startServer(bin string, extra ...string) (*exec.Cmd, creds) {
	args := append([]string{"-addr", "127.0.0.1:0", "-print-env", "-log-level", "error"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	c := creds{}
	sc := bufio.NewScanner(out)
	for len(c) < 6 && sc.Scan() {
		line := strings.TrimPrefix(sc.Text(), "export ")
		k, v, _ := strings.Cut(line, "=")
		c[k] = strings.Trim(v, "'")
	}
	go io.Copy(io.Discard, out)
	return cmd, c
}

// rssMB returns the resident set size of process pid in MB.
func rssMB(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return -1
}

func sign(secret string, body []byte) (string, string) {
	raw, _ := hex.DecodeString(secret)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	m := hmac.New(sha256.New, raw)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return ts, "v1=" + hex.EncodeToString(m.Sum(nil))
}

func gz(v any) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	json.NewEncoder(w).Encode(v)
	w.Close()
	return b.Bytes()
}

// ingest sends a signed batch and returns the status and body.
func ingest(c creds, samples []map[string]any) (int, string) {
	body := gz(map[string]any{"samples": samples})
	ts, sig := sign(c["TRIPSWITCH_INGEST_SECRET"], body)
	req, _ := http.NewRequest("POST", c["TRIPSWITCH_BASE_URL"]+"/v1/projects/"+c["TRIPSWITCH_PROJECT_ID"]+"/ingest", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-EB-Timestamp", ts)
	req.Header.Set("X-EB-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func slowBody(bin string, n int, limit time.Duration) {
	cmd, c := startServer(bin)
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	time.Sleep(300 * time.Millisecond)
	base := rssMB(pid)
	u, _ := url.Parse(c["TRIPSWITCH_BASE_URL"])
	const size = 5 << 20
	chunk := make([]byte, 64<<10)
	var open atomic.Int64
	var wg sync.WaitGroup
	var lastClose atomic.Int64
	start := time.Now()
	for i := 0; i < n; i++ {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			fmt.Println("dial:", err)
			continue
		}
		open.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1/projects/%s/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nX-EB-Timestamp: %d\r\nX-EB-Signature: v1=%s\r\nContent-Length: %d\r\n\r\n",
				c["TRIPSWITCH_PROJECT_ID"], time.Now().UnixMilli(), strings.Repeat("0", 64), size)
			left := size - 1
			for left > 0 {
				k := min(left, len(chunk))
				if _, err := conn.Write(chunk[:k]); err != nil {
					break
				}
				left -= k
			}
			// Stall; wait until the server closes the connection.
			conn.SetReadDeadline(time.Now().Add(limit))
			io.Copy(io.Discard, conn)
			open.Add(-1)
			lastClose.Store(int64(time.Since(start)))
		}()
	}
	peak := base
	var signedStatus int
	var signedBody string
	signedDone := false
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		if r := rssMB(pid); r > peak {
			peak = r
		}
		if !signedDone && time.Since(start) > 3*time.Second {
			signedStatus, signedBody = ingest(c, []map[string]any{{"router_id": "r", "metric": "m", "ts_ms": time.Now().UnixMilli(), "value": 1, "ok": true}})
			signedDone = true
		}
		if open.Load() == 0 {
			break
		}
	}
	fmt.Printf("slow-body connections: %d, each sending %d of %d bytes then stalling\n", n, size-1, size)
	fmt.Printf("RSS before: %.1f MB, peak: %.1f MB, added: %.1f MB\n", base, peak, peak-base)
	fmt.Printf("signed request during the attack: %d %s\n", signedStatus, strings.TrimSpace(signedBody))
	if o := open.Load(); o > 0 {
		fmt.Printf("still open after %s: %d connections\n", limit, o)
	} else {
		fmt.Printf("all closed by the server after %.1f s\n", time.Duration(lastClose.Load()).Seconds())
	}
	fmt.Printf("RSS at end: %.1f MB\n", rssMB(pid))
	cmd.Process.Kill()
	wg.Wait()
}

const seedFile = `{"routers": [{"id": "rtr_future", "name": "future"}, {"id": "rtr_control", "name": "control"}],
 "breakers": [
  {"name": "future", "metric": "req", "kind": "error_rate", "op": "gt", "threshold": 0.5, "window_ms": 2000, "min_count": 5,
   "cooldown_ms": 1000, "eval_interval_ms": 100, "half_open_confirmation_ms": 1000, "half_open_indeterminate_policy": "optimistic", "router_ids": ["rtr_future"]},
  {"name": "control", "metric": "req", "kind": "error_rate", "op": "gt", "threshold": 0.5, "window_ms": 2000, "min_count": 5,
   "cooldown_ms": 1000, "eval_interval_ms": 100, "half_open_confirmation_ms": 1000, "half_open_indeterminate_policy": "optimistic", "router_ids": ["rtr_control"]}]}`

// state reads a breaker's state with the admin key.
func state(c creds, name string) string {
	req, _ := http.NewRequest("GET", c["TRIPSWITCH_BASE_URL"]+"/v1/projects/"+c["TRIPSWITCH_PROJECT_ID"]+"/breakers/"+name+"/state", nil)
	req.Header.Set("Authorization", "Bearer "+c["TRIPSWITCH_ADMIN_KEY"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var v struct{ State string }
	json.NewDecoder(resp.Body).Decode(&v)
	return v.State
}

func farFuture(bin string, limit, ahead time.Duration) {
	f, _ := os.CreateTemp("", "seed-*.json")
	f.WriteString(seedFile)
	f.Close()
	defer os.Remove(f.Name())
	cmd, c := startServer(bin, "-config", f.Name())
	defer cmd.Process.Kill()
	time.Sleep(300 * time.Millisecond)
	now := time.Now().UnixMilli()
	future := now + ahead.Milliseconds()
	var ss []map[string]any
	for i := 0; i < 10; i++ {
		ss = append(ss, map[string]any{"router_id": "rtr_future", "metric": "req", "ts_ms": future, "value": 1, "ok": false})
		ss = append(ss, map[string]any{"router_id": "rtr_control", "metric": "req", "ts_ms": now, "value": 1, "ok": false})
	}
	st, body := ingest(c, ss)
	fmt.Printf("ingest of 10 failures stamped %s ahead and 10 current failures: %d %s\n", ahead, st, strings.TrimSpace(body))
	start := time.Now()
	opened := map[string]bool{}
	closedAt := map[string]time.Duration{}
	for time.Since(start) < limit && len(closedAt) < 2 {
		for _, n := range []string{"future", "control"} {
			s := state(c, n)
			if s == "open" {
				opened[n] = true
			}
			if _, ok := closedAt[n]; !ok && s == "closed" && (opened[n] || time.Since(start) > 2*time.Second) {
				closedAt[n] = time.Since(start)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range []string{"future", "control"} {
		if d, ok := closedAt[n]; ok && !opened[n] {
			fmt.Printf("breaker %-8s never opened (closed throughout %.1f s)\n", n, d.Seconds())
		} else if ok {
			fmt.Printf("breaker %-8s opened=%v, closed after %.1f s\n", n, opened[n], d.Seconds())
		} else {
			fmt.Printf("breaker %-8s opened=%v, still %s after %.0f s\n", n, opened[n], state(c, n), limit.Seconds())
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tagMemory(bin string, total int) {
	cmd, c := startServer(bin)
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	time.Sleep(300 * time.Millisecond)
	base := rssMB(pid)
	peak := base
	const batch = 250
	now := time.Now().UnixMilli()
	sent := 0
	for sent < total {
		ss := make([]map[string]any, 0, batch)
		for i := 0; i < batch && sent < total; i++ {
			tags := make(map[string]string, 32)
			for j := 0; j < 32; j++ {
				tags[fmt.Sprintf("%03d", j)+randHex(124)] = randHex(256)
			}
			ss = append(ss, map[string]any{"router_id": "r", "metric": "m", "ts_ms": now, "value": 1, "ok": true, "tags": tags})
			sent++
		}
		if st, b := ingest(c, ss); st != 202 {
			fmt.Println("ingest:", st, b)
			return
		}
		if r := rssMB(pid); r > peak {
			peak = r
		}
	}
	time.Sleep(time.Second)
	fmt.Printf("%d samples, each with 32 tags of 128-character keys and 256-character values\n", total)
	fmt.Printf("RSS before: %.1f MB, peak: %.1f MB, after: %.1f MB\n", base, peak, rssMB(pid))
}

func main() {
	bin := flag.String("bin", "", "tripswitch-local binary")
	which := flag.String("case", "", "slowbody, farfuture or tags")
	n := flag.Int("n", 0, "connections (slowbody, default 60) or samples (tags, default 100000)")
	limit := flag.Duration("limit", 60*time.Second, "bound")
	ahead := flag.Duration("ahead", 365*24*time.Hour, "how far ahead the future samples are stamped (farfuture)")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "hostile: -bin names a tripswitch-local binary")
		os.Exit(2)
	}
	switch *which {
	case "slowbody":
		slowBody(*bin, cmp.Or(*n, 60), *limit)
	case "farfuture":
		farFuture(*bin, *limit, *ahead)
	case "tags":
		tagMemory(*bin, cmp.Or(*n, 100_000))
	default:
		fmt.Fprintln(os.Stderr, "hostile: -case is slowbody, farfuture or tags")
		os.Exit(2)
	}
}
