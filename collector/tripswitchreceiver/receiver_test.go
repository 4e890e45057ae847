package tripswitchreceiver

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/localserver/localservertest"
)

func loadConfig(t *testing.T, id component.ID) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(id.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadConfig(t *testing.T) {
	cfg := loadConfig(t, component.NewID(Type))
	if err := confmap.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "http://127.0.0.1:8787" || cfg.ProjectID != "proj_abc123" || cfg.ProjectKey != "eb_pk_abc" || cfg.CollectionInterval != 2*time.Second {
		t.Errorf("config %+v", cfg)
	}
	err := confmap.Validate(loadConfig(t, component.NewIDWithName(Type, "bad")))
	for _, field := range []string{"endpoint", "project_id", "project_key", "collection_interval"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("error %v does not name %s", err, field)
		}
	}
	if err != nil && strings.Contains(err.Error(), "eb_admin_not") {
		t.Errorf("error %q shows the key", err)
	}
}

// TestShutdownWhileConnecting starts the receiver against an address
// where nothing listens: Start returns at once, and Shutdown stops the
// connection attempts (goleak checks that nothing is left).
func TestShutdownWhileConnecting(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Endpoint, cfg.ProjectID, cfg.ProjectKey = "http://127.0.0.1:9", "proj_1", "eb_pk_x"
	ctx := context.Background()
	r, err := NewFactory().CreateMetrics(ctx, receivertest.NewNopSettings(Type), cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let it try
	shutCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.Shutdown(shutCtx); err != nil {
		t.Fatal(err)
	}
}

// stateOf returns the breaker's state as the receiver's latest batch
// gives it ("" when absent).
func stateOf(md pmetric.Metrics, breaker string) string {
	var state string
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				if m.Name() != "tripswitch.breaker.state" {
					continue
				}
				ps := m.Sum().DataPoints()
				for p := range ps.Len() {
					dp := ps.At(p)
					name, _ := dp.Attributes().Get("tripswitch.breaker.name")
					st, _ := dp.Attributes().Get("tripswitch.breaker.state")
					if name.Str() == breaker && dp.IntValue() == 1 {
						state = st.Str()
					}
				}
			}
		}
	}
	return state
}

// TestEmitsBreakerStates reads a project's state stream from the local
// server and checks that a forced change reaches the next consumer in
// otelbridge's shape.
func TestEmitsBreakerStates(t *testing.T) {
	srv := localservertest.Start(t)
	creds := srv.Credentials()
	localservertest.Seed(t, srv, localserver.Seed{
		Routers: []localserver.SeedRouter{{ID: "rtr_1", Name: "r"}},
		Breakers: []localserver.SeedBreaker{{Name: "checkout-errors", Metric: "latency", Kind: "error_rate", Op: "gt", Threshold: 0.5,
			RouterIDs: []string{"rtr_1"}}},
	})
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Endpoint, cfg.ProjectID, cfg.ProjectKey = creds.BaseURL, creds.ProjectID, configopaque.String(creds.ProjectKey)
	cfg.CollectionInterval = 20 * time.Millisecond
	sink := new(consumertest.MetricsSink)
	ctx := context.Background()
	r, err := NewFactory().CreateMetrics(ctx, receivertest.NewNopSettings(Type), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	wait := func(want string) pmetric.Metrics {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			all := sink.AllMetrics()
			if len(all) > 0 && stateOf(all[len(all)-1], "checkout-errors") == want {
				return all[len(all)-1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no batch with checkout-errors %s among %d", want, len(all))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("closed")
	if err := srv.ForceState(creds.ProjectID, "checkout-errors", "open", 0); err != nil {
		t.Fatal(err)
	}
	md := wait("open")
	res, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get("tripswitch.project.id")
	if res.Str() != creds.ProjectID {
		t.Errorf("resource tripswitch.project.id = %q", res.Str())
	}
	names := map[string]bool{}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		names[ms.At(i).Name()] = true
	}
	for _, want := range []string{"tripswitch.breaker.state", "tripswitch.breaker.allow_rate", "tripswitch.breaker.transitions"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
	if names["tripswitch.sample.produced"] {
		t.Error("the receiver's own client metrics are emitted")
	}
}
