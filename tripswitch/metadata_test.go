package tripswitch_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

func TestMetadataETagAndStopOnForbidden(t *testing.T) {
	f := newFakeServer(t)
	f.etag = `"v1"`
	f.metaBody["breakers"] = `{"breakers":[{"id":"b1","name":"checkout","metadata":{"region":"eu"}}]}`
	f.metaBody["routers"] = `{"routers":[{"id":"rtr_1","name":"main","metadata":{"env":"prod"}}]}`
	c := newTestClient(t, f, tripswitch.WithMetadataSyncInterval(20*time.Millisecond))
	eventually(t, "metadata", func() bool {
		_, err := c.RouterMetadata()
		return err == nil && f.hits("routers") >= 3
	})
	bs, err := c.BreakerMetadata()
	if err != nil || len(bs) != 1 || bs[0].Metadata["region"] != "eu" {
		t.Fatalf("BreakerMetadata = %+v, %v", bs, err)
	}
	// After 304s the cache still holds the data.
	rs, _ := c.RouterMetadata()
	if len(rs) != 1 || rs[0].ID != "rtr_1" {
		t.Fatalf("RouterMetadata after 304 = %+v", rs)
	}
	f.mu.Lock()
	f.metaCodes["breakers"] = http.StatusForbidden
	before := f.metaHits["breakers"]
	f.mu.Unlock()
	eventually(t, "a poll answered 403", func() bool { return f.hits("breakers") > before })
	time.Sleep(100 * time.Millisecond) // a poll in flight lands
	n := f.hits("breakers")
	time.Sleep(200 * time.Millisecond) // ten polling intervals
	if m := f.hits("breakers"); m != n {
		t.Fatalf("client kept polling after 403: %d → %d", n, m)
	}
}

func TestSelectors(t *testing.T) {
	f := newFakeServer(t)
	f.snapshot = []string{`{"breaker":"eu-db","state":"open","allow_rate":0}`, `{"breaker":"us-db","state":"closed","allow_rate":1}`}
	f.metaBody["breakers"] = `{"breakers":[{"id":"b1","name":"eu-db","metadata":{"region":"eu"}},{"id":"b2","name":"us-db","metadata":{"region":"us"}}]}`
	f.metaBody["routers"] = `{"routers":[{"id":"rtr_eu","name":"eu","metadata":{"region":"eu"}}]}`
	noMeta := newTestClient(t, f)
	pick := func(region string) func([]tripswitch.BreakerMeta) []string {
		return func(bs []tripswitch.BreakerMeta) []string {
			var out []string
			for _, b := range bs {
				if b.Metadata["region"] == region {
					out = append(out, b.Name)
				}
			}
			return out
		}
	}
	task := func() (int, error) { return 1, nil }
	if _, err := tripswitch.Execute(noMeta, context.Background(), task, tripswitch.WithBreakerSelector(pick("eu"))); !errors.Is(err, tripswitch.ErrMetadataUnavailable) {
		t.Fatalf("selector without metadata: %v", err)
	}
	c := newTestClient(t, f, tripswitch.WithMetadataSyncInterval(time.Hour))
	eventually(t, "metadata", func() bool { _, err := c.RouterMetadata(); return err == nil })
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(pick("eu"))); !errors.Is(err, tripswitch.ErrOpen) {
		t.Fatalf("eu selection: %v, want open", err)
	}
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(pick("us"))); err != nil {
		t.Fatalf("us selection: %v", err)
	}
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(pick("mars"))); err != nil {
		t.Fatalf("empty selection must not gate: %v", err)
	}
	if _, err := tripswitch.Execute(c, context.Background(), task, tripswitch.WithBreakerSelector(func([]tripswitch.BreakerMeta) []string { panic("selector bug") })); err != nil {
		t.Fatalf("panicking selector: %v", err)
	}
	_, err := tripswitch.Execute(c, context.Background(), task,
		tripswitch.WithRouterSelector(func(rs []tripswitch.RouterMeta) string { return rs[0].ID }),
		tripswitch.WithMetric("m", 1))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Flush(context.Background())
	if got := f.samples(); len(got) != 1 || got[0]["router_id"] != "rtr_eu" {
		t.Fatalf("router selector samples %v", got)
	}
	for _, opts := range [][]tripswitch.CallOption{
		{tripswitch.WithBreakers("a"), tripswitch.WithBreakerSelector(pick("eu"))},
		{tripswitch.WithRouter("r"), tripswitch.WithRouterSelector(func([]tripswitch.RouterMeta) string { return "" })},
	} {
		if _, err := tripswitch.Execute(c, context.Background(), task, opts...); !errors.Is(err, tripswitch.ErrConflictingOptions) {
			t.Errorf("conflicting options: %v", err)
		}
	}
}
