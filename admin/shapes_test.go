package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const breakerJSON = `{"id":"brk_1","name":"checkout-latency","metric":"latency_ms","kind":"percentile",
"kind_params":{"percentile":99},"op":"gt","threshold":500,"window_ms":60000,"min_count":20,
"half_open_backoff_enabled":true,"half_open_indeterminate_policy":"conservative",
"recovery_allow_rate_ramp_steps":4,"actions":[{"type":"notify"}],"metadata":{"region":"eu"}}`

func checkBreaker(t *testing.T, b *Breaker, routerIDs []string) {
	t.Helper()
	if b.ID != "brk_1" || b.Name != "checkout-latency" || b.Kind != KindPercentile || b.Op != OpGt ||
		b.Threshold != 500 || b.WindowMs != 60000 || b.MinCount != 20 || !b.HalfOpenBackoffEnabled ||
		b.HalfOpenIndeterminatePolicy != PolicyConservative || b.RecoveryAllowRateRampSteps != 4 ||
		b.Metadata["region"] != "eu" || b.KindParams["percentile"] != 99.0 || !strings.Contains(string(b.Actions), "notify") {
		t.Errorf("breaker = %+v", b)
	}
	if !slices.Equal(b.RouterIDs, routerIDs) {
		t.Errorf("RouterIDs = %v, want %v", b.RouterIDs, routerIDs)
	}
}

func TestBreakerResponseShapes(t *testing.T) {
	withIDs := strings.Replace(breakerJSON, `"id":"brk_1",`, `"id":"brk_1","router_ids":["rtr_b"],`, 1)
	tests := []struct {
		name, body string
		routerIDs  []string
	}{
		{"wrapped", `{"breaker":` + breakerJSON + `,"router_ids":["rtr_a","rtr_b"]}`, []string{"rtr_a", "rtr_b"}},
		{"wrapped without router ids", `{"breaker":` + breakerJSON + `}`, nil},
		{"wrapped, ids inside", `{"breaker":` + withIDs + `,"router_ids":["rtr_z"]}`, []string{"rtr_b"}},
		{"bare", breakerJSON, nil},
		{"bare with router ids", withIDs, []string{"rtr_b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, tt.body) })
			c, _ := newTestClient(t, f.URL)
			ctx := context.Background()
			for _, op := range []func() (*Breaker, error){
				func() (*Breaker, error) {
					return c.CreateBreaker(ctx, "p", CreateBreakerInput{Name: "x", Metric: "m", Kind: KindAvg, Op: OpGt})
				},
				func() (*Breaker, error) { return c.GetBreaker(ctx, "p", "brk_1") },
				func() (*Breaker, error) {
					return c.UpdateBreaker(ctx, "p", "brk_1", UpdateBreakerInput{Threshold: Ptr(1.0)})
				},
			} {
				b, err := op()
				if err != nil {
					t.Fatal(err)
				}
				checkBreaker(t, b, tt.routerIDs)
			}
		})
	}
}

func TestRouterResponseShapes(t *testing.T) {
	router := `{"id":"rtr_1","name":"payments","mode":"canary","enabled":true,"breaker_count":2,
"inserted_at":"2026-03-01T10:00:00Z","created_by":"ci","metadata":{"env":"prod"},"breakers":%s}`
	tests := []struct {
		name, body string
		ids        []string
	}{
		{"bare, breaker objects", strings.Replace(router, "%s", `[{"id":"b1","name":"one"},{"id":"b2"}]`, 1), []string{"b1", "b2"}},
		{"bare, breaker ids", strings.Replace(router, "%s", `["b1","b2"]`, 1), []string{"b1", "b2"}},
		{"wrapped", `{"router":` + strings.Replace(router, "%s", `["b1","b2"]`, 1) + `}`, []string{"b1", "b2"}},
		{"wrapped, null breakers", `{"router":` + strings.Replace(router, "%s", `null`, 1) + `}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 201, tt.body) })
			c, _ := newTestClient(t, f.URL)
			r, err := c.CreateRouter(context.Background(), "p", CreateRouterInput{Name: "payments", Mode: RouterModeCanary})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, b := range r.Breakers {
				ids = append(ids, b.ID)
			}
			if r.ID != "rtr_1" || r.Mode != RouterModeCanary || !r.Enabled || r.BreakerCount != 2 || r.CreatedBy != "ci" ||
				r.Metadata["env"] != "prod" || !r.InsertedAt.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) || !slices.Equal(ids, tt.ids) {
				t.Errorf("router = %+v, breaker ids %v", r, ids)
			}
		})
	}
}

func TestSyncResponseShapes(t *testing.T) {
	for name, body := range map[string]string{
		"list":   `[` + breakerJSON + `]`,
		"object": `{"breakers":[` + breakerJSON + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, body) })
			c, _ := newTestClient(t, f.URL)
			got, err := c.SyncBreakers(context.Background(), "p", []CreateBreakerInput{{Name: "checkout-latency", Metric: "latency_ms", Kind: KindPercentile, KindParams: map[string]any{"percentile": 99}, Op: OpGt, Threshold: 500}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d breakers", len(got))
			}
			checkBreaker(t, &got[0], nil)
			req := f.requests()[0]
			if req.Method != http.MethodPut || !strings.HasPrefix(string(req.Body), `{"breakers":[{"name":"checkout-latency"`) {
				t.Errorf("request %s %s", req.Method, req.Body)
			}
		})
	}
	t.Run("empty set is sent as an empty list", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, `{"breakers":null}`) })
		c, _ := newTestClient(t, f.URL)
		got, err := c.SyncBreakers(context.Background(), "p", nil)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("SyncBreakers = %v, %v", got, err)
		}
		if body := string(f.requests()[0].Body); body != `{"breakers":[]}` {
			t.Errorf("body %s", body)
		}
	})
}

func TestBatchStateResponseShapes(t *testing.T) {
	states := `[{"breaker_id":"b1","state":"half_open","allow_rate":0.25,"updated_at":"2026-03-01T11:59:30.5Z"},
{"breaker_id":"b2","state":"open","allow_rate":null,"updated_at":"2026-03-01T11:00:00+01:00"}]`
	for name, body := range map[string]string{"list": states, "object": `{"states":` + states + `}`} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, body) })
			c, _ := newTestClient(t, f.URL)
			got, err := c.BatchBreakerStates(context.Background(), "p", BatchStateInput{BreakerIDs: []string{"b1", "b2"}})
			if err != nil {
				t.Fatal(err)
			}
			want := []BreakerState{
				{"b1", StateHalfOpen, 0.25, time.Date(2026, 3, 1, 11, 59, 30, 5e8, time.UTC)},
				{"b2", StateOpen, 0, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
			}
			if len(got) != 2 {
				t.Fatalf("got %+v", got)
			}
			for i := range want {
				if got[i].BreakerID != want[i].BreakerID || got[i].State != want[i].State ||
					got[i].AllowRate != want[i].AllowRate || !got[i].UpdatedAt.Equal(want[i].UpdatedAt) {
					t.Errorf("state %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			req := f.requests()[0]
			if req.Path != "/v1/projects/p/breakers/state:batch" || string(req.Body) != `{"breaker_ids":["b1","b2"]}` {
				t.Errorf("request %s %s", req.Path, req.Body)
			}
		})
	}
}

func TestMalformedResponses(t *testing.T) {
	for name, body := range map[string]string{
		"not json":            `<html>`,
		"object without list": `{"items":[]}`,
		"empty":               ``,
		"wrong types":         `{"states":[{"breaker_id":7}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) { writeJSON(w, 200, body) })
			c, _ := newTestClient(t, f.URL)
			_, err := c.BatchBreakerStates(context.Background(), "p", BatchStateInput{})
			var apiErr *APIError
			if err == nil || errors.As(err, &apiErr) || !strings.Contains(err.Error(), "state:batch") {
				t.Errorf("err = %v, want a decoding error naming the call", err)
			}
		})
	}
}

func TestTimesAreRFC3339(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeJSON(w, 200, `{"events":[{"id":"e1","project_id":"p","breaker_id":"b","from_state":"closed","to_state":"open",
"reason":"p95 > 500","timestamp":"2026-03-01T12:00:01.250+02:00"}],"returned":1}`)
	})
	c, _ := newTestClient(t, f.URL)
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("x", 3600))
	list, err := c.ListEvents(context.Background(), "p", ListEventsParams{BreakerID: "b", StartTime: start, EndTime: start.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	e := list.Events[0]
	if !e.Timestamp.Equal(time.Date(2026, 3, 1, 10, 0, 1, 25e7, time.UTC)) || e.FromState != StateClosed || e.ToState != StateOpen || e.Reason != "p95 > 500" || list.Returned != 1 {
		t.Errorf("event %+v", e)
	}
	q := f.requests()[0].RawQuery
	for _, part := range []string{"breaker_id=b", "start_time=2026-03-01T08%3A00%3A00Z", "end_time=2026-03-01T09%3A00%3A00Z", "limit=10"} {
		if !strings.Contains(q, part) {
			t.Errorf("query %q lacks %q", q, part)
		}
	}
	var round Event
	data, _ := json.Marshal(e)
	if err := json.Unmarshal(data, &round); err != nil || !round.Timestamp.Equal(e.Timestamp) {
		t.Errorf("event does not round-trip: %s", data)
	}
}
