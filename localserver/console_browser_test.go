package localserver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

var screenshotPath = flag.String("console.screenshot", "",
	"write the browser test's screenshot of the console to this PNG file (the README's docs/console.png)")

// chromiumPath finds a Chromium-based browser: $CHROMIUM, then the usual
// command names.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// consoleSeed is a small shop: checkout latency and errors, payment errors.
var consoleSeed = localserver.Seed{
	Routers: []localserver.SeedRouter{{ID: "rtr_checkout", Name: "checkout"}, {ID: "rtr_payments", Name: "payments"}},
	Breakers: []localserver.SeedBreaker{
		{Name: "checkout-latency", Metric: "request", Kind: "p95", Op: "gt", Threshold: 400,
			WindowMs: 30_000, MinCount: 10, RouterIDs: []string{"rtr_checkout"}},
		{Name: "checkout-errors", Metric: "request", Kind: "error_rate", Op: "gt", Threshold: 0.2,
			WindowMs: 30_000, MinCount: 10, RouterIDs: []string{"rtr_checkout"}},
		{Name: "payment-errors", Metric: "charge", Kind: "error_rate", Op: "gt", Threshold: 0.25,
			WindowMs: 30_000, MinCount: 10, CooldownMs: 4_000, HalfOpenConfirmationMs: 2_000,
			RouterIDs: []string{"rtr_payments"}},
	},
}

// traffic sends signed samples to the default project; it is safe to call
// from any goroutine.
type traffic struct {
	c   localserver.Credentials
	mu  sync.Mutex
	rnd *rand.Rand
}

// send posts one second's samples stamped at: checkout with latencies of
// 80–330 ms and 2 % failures, payments with the given failure share.
func (tr *traffic) send(at time.Time, paymentFailures float64) error {
	tr.mu.Lock()
	var samples []localserver.Sample
	for range 12 {
		samples = append(samples, localserver.Sample{RouterID: "rtr_checkout", Metric: "request",
			TsMs: at.UnixMilli(), Value: 80 + 250*tr.rnd.Float64(), OK: tr.rnd.Float64() >= 0.02})
	}
	for range 6 {
		samples = append(samples, localserver.Sample{RouterID: "rtr_payments", Metric: "charge",
			TsMs: at.UnixMilli(), Value: 1, OK: tr.rnd.Float64() >= paymentFailures})
	}
	tr.mu.Unlock()
	return tr.post(samples)
}

func (tr *traffic) post(samples []localserver.Sample) error {
	doc, err := json.Marshal(map[string]any{"samples": samples})
	if err != nil {
		return err
	}
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	zw.Write(doc)
	zw.Close()
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req, _ := http.NewRequest(http.MethodPost, tr.c.BaseURL+"/v1/projects/"+tr.c.ProjectID+"/ingest", &body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-EB-Timestamp", ts)
	req.Header.Set("X-EB-Signature", sign(tr.c.IngestSecret, ts, body.Bytes()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ingest: status %d", resp.StatusCode)
	}
	return nil
}

// TestConsoleInBrowser drives the console in headless Chromium: sign in
// with the admin key, watch a breaker trip without a reload, force it closed
// from the page and check the server's state.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	browser := chromiumPath()
	if browser == "" && os.Getenv("TRIPSWITCH_BROWSER_TESTS") == "require" {
		t.Fatal("no Chromium found and TRIPSWITCH_BROWSER_TESTS=require: install the chromium package or set CHROMIUM")
	}
	if browser == "" {
		t.Skip("no Chromium found (install the chromium package, or set CHROMIUM to a Chromium-based browser); .ci/run installs it")
	}
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, consoleSeed)
	c := srv.Credentials()
	tr := &traffic{c: c, rnd: rand.New(rand.NewPCG(1, 2))}

	// A minute of healthy history, so that the charts have a past.
	now := time.Now()
	for s := 60; s > 0; s-- {
		if err := tr.send(now.Add(-time.Duration(s)*time.Second), 0.05); err != nil {
			t.Fatal(err)
		}
	}
	var failures sync.Mutex
	paymentFailures := 0.05
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // live traffic, twice a second
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case at := <-tick.C:
				failures.Lock()
				f := paymentFailures
				failures.Unlock()
				if err := tr.send(at, f); err != nil && ctx.Err() == nil {
					t.Errorf("live traffic: %v", err)
					return
				}
			}
		}
	}()
	defer func() { stop(); <-done }()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1360, 760))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil { // starts the browser, without a deadline
		t.Fatalf("starting %s: %v", browser, err)
	}
	// run runs steps, each batch within a generous bound.
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		rctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(rctx, steps...); err != nil {
			dctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			defer cancel()
			text, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v; the page shows:\n%s", what, err, text)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	row := `tr[data-breaker="payment-errors"]`
	run("sign in and see the breakers",
		chromedp.Navigate(c.BaseURL+"/"),
		chromedp.WaitVisible(css(`#key`)),
		chromedp.SendKeys(css(`#key`), c.AdminKey),
		chromedp.Click(css(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(css(`tr[data-breaker="checkout-latency"][data-state="closed"]`)),
		chromedp.WaitVisible(css(row+`[data-state="closed"]`)),
	)
	url, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if url != c.BaseURL+"/" {
		t.Fatalf("page URL after sign-in = %q, want %q: the key must not reach the URL", url, c.BaseURL+"/")
	}

	// Failing payments trip payment-errors; the page follows without a reload.
	sent := time.Now()
	failures.Lock()
	paymentFailures = 0.9
	failures.Unlock()
	if err := tr.post(failing(120, "rtr_payments", "charge", sent)); err != nil {
		t.Fatal(err)
	}
	run("see payment-errors open", chromedp.WaitVisible(css(row+`[data-state="open"]`)))
	changedAt, err := chromedp.Run(bctx, chromedp.AttributeValue(css(row), "data-changed-at"))
	if err != nil {
		t.Fatal(err)
	}
	shown, _ := strconv.ParseInt(changedAt.Value, 10, 64)
	r := call(t, http.MethodGet, projectURL(srv, "/events?breaker_id=payment-errors"), c.AdminKey, nil)
	evs := r.json(t)["events"].([]any)
	opened, _ := time.Parse(time.RFC3339Nano, evs[0].(map[string]any)["timestamp"].(string))
	t.Logf("payment-errors: samples sent → shown open on the page %v; transition → shown %v",
		time.UnixMilli(shown).Sub(sent).Round(time.Millisecond), time.UnixMilli(shown).Sub(opened).Round(time.Millisecond))

	// Let it cycle once (cooldown to half-open, failures reopen it), then
	// capture the page while it is open.
	run("see the breaker cycle",
		chromedp.WaitVisible(css(`#timeline li:nth-child(3)[data-breaker="payment-errors"]`)),
		chromedp.WaitVisible(css(row+`[data-state="open"]`)),
	)
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
		t.Fatalf("screenshot is not a plausible PNG (%d bytes)", len(png))
	}
	if *screenshotPath != "" {
		if err := os.WriteFile(*screenshotPath, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Force it closed from the page: the server holds it closed.
	run("force payment-errors closed",
		chromedp.Click(css(row+` button[data-action="closed"]`)),
		chromedp.WaitVisible(css(row+`[data-state="closed"][data-held="true"]`)),
	)
	if st, _, _ := srv.BreakerState(c.ProjectID, "payment-errors"); st != "closed" {
		t.Fatalf("server state after Force closed on the page = %s, want closed", st)
	}
	run("release it", chromedp.Click(css(row+` button[data-action="release"]`)),
		chromedp.WaitVisible(css(row+`[data-held="false"]`)))
	waitFor(t, "payment-errors to reopen after release", func() bool {
		st, _, _ := srv.BreakerState(c.ProjectID, "payment-errors")
		return st == "open"
	})
	run("see it reopen", chromedp.WaitVisible(css(row+`[data-state="open"]`)))

	// Reset a window from the page: the samples held so far are gone.
	_, before, _ := srv.Aggregate(c.ProjectID, "checkout-errors")
	run("reset checkout-errors' window", chromedp.Click(css(`tr[data-breaker="checkout-errors"] button[data-action="reset"]`)))
	waitFor(t, "checkout-errors' window to be reset", func() bool {
		_, n, _ := srv.Aggregate(c.ProjectID, "checkout-errors")
		return n < before/2
	})

	// The timeline filters by breaker.
	ids := map[string]string{}
	for _, b := range listBreakers(t, srv) {
		ids[b.Name] = b.ID
	}
	run("filter the timeline",
		chromedp.SetValue(css(`#filter`), ids["checkout-latency"]),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('filter').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(css(`#no-events`)),
		chromedp.SetValue(css(`#filter`), ids["payment-errors"]),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('filter').dispatchEvent(new Event('change'))`),
		chromedp.WaitVisible(css(`#timeline li[data-breaker="payment-errors"]`)),
	)
}

// listBreakers lists the default project's breakers through the
// management API.
func listBreakers(t *testing.T, srv *localserver.Server) []struct{ ID, Name string } {
	t.Helper()
	var out struct {
		Breakers []struct{ ID, Name string } `json:"breakers"`
	}
	r := call(t, http.MethodGet, projectURL(srv, "/breakers"), srv.Credentials().AdminKey, nil)
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Breakers
}
