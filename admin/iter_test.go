package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// pagedEvents serves 5 events in pages of 2, with cursors "c2" and "c4".
func pagedEvents(t *testing.T) *fake {
	return newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		start := map[string]int{"": 0, "c2": 2, "c4": 4}[r.URL.Query().Get("cursor")]
		var items []string
		for i := start; i < start+2 && i < 5; i++ {
			items = append(items, fmt.Sprintf(`{"id":"e%d","timestamp":"2026-03-01T12:00:0%dZ"}`, i, i))
		}
		next := ""
		if start+2 < 5 {
			next = fmt.Sprintf(`,"next_cursor":"c%d"`, start+2)
		}
		writeJSON(w, 200, `{"events":[`+strings.Join(items, ",")+`],"returned":`+fmt.Sprint(len(items))+next+`}`)
	})
}

func TestListEventsAllWalksEveryPage(t *testing.T) {
	f := pagedEvents(t)
	c, _ := newTestClient(t, f.URL)
	params := ListEventsParams{BreakerID: "brk_1", Limit: 2}
	for round := range 2 { // the sequence can be ranged over again
		var ids []string
		for e, err := range c.ListEventsAll(context.Background(), "p", params) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		if got := strings.Join(ids, ","); got != "e0,e1,e2,e3,e4" {
			t.Errorf("round %d: ids %s", round, got)
		}
	}
	if params.Cursor != "" {
		t.Errorf("caller's params changed: %+v", params)
	}
	reqs := f.requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6", len(reqs))
	}
	for _, r := range reqs {
		if !strings.Contains(r.RawQuery, "breaker_id=brk_1") || !strings.Contains(r.RawQuery, "limit=2") {
			t.Errorf("page request lost the filters: %q", r.RawQuery)
		}
	}
}

func TestIteratorStopsWhenTheConsumerStops(t *testing.T) {
	f := pagedEvents(t)
	c, _ := newTestClient(t, f.URL)
	n := 0
	for _, err := range c.ListEventsAll(context.Background(), "p", ListEventsParams{}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("%d pages fetched for 3 items, want 2", got)
	}
}

func TestIteratorYieldsErrorOnceAndStops(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			writeJSON(w, 200, `{"routers":[{"id":"r1"}],"next_cursor":"x"}`)
			return
		}
		writeJSON(w, 404, `{"code":"not_found"}`)
	})
	c, _ := newTestClient(t, f.URL)
	var ids []string
	var errs []error
	for r, err := range c.ListRoutersAll(context.Background(), "p", ListRoutersParams{}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, r.ID)
	}
	if len(ids) != 1 || len(errs) != 1 || !errors.Is(errs[0], ErrNotFound) {
		t.Errorf("ids %v errs %v", ids, errs)
	}
}

func TestIteratorDetectsARepeatedCursor(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 200, `{"items":[{"id":"ch"}],"next_cursor":"same"}`)
	})
	c, _ := newTestClient(t, f.URL)
	var errs []error
	items := 0
	for _, err := range c.ListNotificationChannelsAll(context.Background(), "p", ListNotificationChannelsParams{}) {
		if err != nil {
			errs = append(errs, err)
		} else {
			items++
		}
	}
	if items != 2 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "repeated") {
		t.Errorf("items %d errs %v", items, errs)
	}
}

func TestBreakerIteratorStartsAtTheCallersCursor(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 200, `{"breakers":[{"id":"b9"}],"count":1}`)
	})
	c, _ := newTestClient(t, f.URL)
	for _, err := range c.ListBreakersAll(context.Background(), "p", ListBreakersParams{Cursor: "from-here", Limit: 50}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if q := f.requests()[0].RawQuery; q != "cursor=from-here&limit=50" {
		t.Errorf("query %q", q)
	}
}

func TestIteratorWithCancelledContext(t *testing.T) {
	f := pagedEvents(t)
	c, _ := newTestClient(t, f.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range c.ListEventsAll(ctx, "p", ListEventsParams{}) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	}
	if len(f.requests()) != 0 {
		t.Error("requests sent with a cancelled context")
	}
}
