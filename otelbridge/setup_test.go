package otelbridge_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
	"github.com/tripswitch-otel/tripswitch-go/otelbridge"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

const (
	router  = "rtr_checkout"
	breaker = "checkout-errors"
)

// startServer starts a local server with one router and one error-rate
// breaker on it that opens once more than half of at least three samples
// failed.
func startServer(t testing.TB, extra ...localserver.SeedBreaker) *localserver.Server {
	t.Helper()
	srv := localservertest.Start(t)
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: router, Name: "checkout"}},
		Breakers: append([]localserver.SeedBreaker{{
			Name: breaker, Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5,
			MinCount: 3, EvalIntervalMs: 100, RouterIDs: []string{router},
		}}, extra...),
	})
	return srv
}

// newClient connects a client to srv; samples are delivered only on Flush
// (or Close). The client is closed when the test ends.
func newClient(t testing.TB, srv *localserver.Server, opts ...tripswitch.Option) *tripswitch.Client {
	t.Helper()
	creds := srv.Credentials()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The client does not close its idle connections on Close; a test
	// transport closed here keeps the server's shutdown prompt.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	base := []tripswitch.Option{
		tripswitch.WithHTTPClient(&http.Client{Transport: tr}),
		tripswitch.WithBaseURL(creds.BaseURL),
		tripswitch.WithProjectKey(creds.ProjectKey),
		tripswitch.WithIngestSecret(creds.IngestSecret),
		tripswitch.WithFlushInterval(time.Hour),
	}
	c, err := tripswitch.NewClient(ctx, creds.ProjectID, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(ctx)
		tr.CloseIdleConnections()
	})
	return c
}

func flush(t testing.TB, c *tripswitch.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// newBridge returns a Bridge whose metrics are read by the returned reader.
func newBridge(t testing.TB) (*otelbridge.Bridge, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	b := otelbridge.New(otelbridge.WithMeterProvider(mp))
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	return b, reader
}

// waitFor polls cond for up to 20 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stateOf(c *tripswitch.Client, name string) tripswitch.State {
	st, _ := c.State(name)
	return st.State
}

// points is one collection flattened to "name{k=v,…}" → value.
type points map[string]float64

func collect(t testing.TB, r *sdkmetric.ManualReader) (points, metricdata.ResourceMetrics) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return flatten(rm), rm
}

func flatten(rm metricdata.ResourceMetrics) points {
	p := points{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					p[m.Name+attrString(dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Sum[float64]:
				for _, dp := range d.DataPoints {
					p[m.Name+attrString(dp.Attributes)] = dp.Value
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					p[m.Name+attrString(dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					p[m.Name+attrString(dp.Attributes)] = dp.Value
				}
			}
		}
	}
	return p
}

// attrString renders attributes without the project ID, which every point
// carries.
func attrString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		if kv.Key == "tripswitch.project.id" {
			continue
		}
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// names returns the instrument names present in p.
func (p points) names() []string {
	var out []string
	for k := range p {
		n, _, _ := strings.Cut(k, "{")
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (p points) String() string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %v\n", k, p[k])
	}
	return b.String()
}

func stateKey(name, state string) string {
	return "tripswitch.breaker.state{tripswitch.breaker.name=" + name + ",tripswitch.breaker.state=" + state + "}"
}

// deleteBreaker deletes a breaker through the management API.
func deleteBreaker(t testing.TB, srv *localserver.Server, name string) {
	t.Helper()
	creds := srv.Credentials()
	req, err := http.NewRequest(http.MethodDelete, creds.BaseURL+"/v1/projects/"+creds.ProjectID+"/breakers/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+creds.AdminKey)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("DELETE breaker: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE breaker: status %d", resp.StatusCode)
	}
}

func dataPointAttrs(a metricdata.Aggregation) []attribute.Set {
	var out []attribute.Set
	switch d := a.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes)
		}
	case metricdata.Sum[float64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes)
		}
	case metricdata.Gauge[float64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes)
		}
	}
	return out
}
