package localserver

import (
	"bytes"
	"encoding/json"
	"testing"
)

// A stream that stops reading is dropped instead of blocking publishers.
func TestSlowSubscriberIsDropped(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(s.Credentials().ProjectID, Seed{Breakers: []SeedBreaker{{Name: "a", Metric: "m", Kind: "count", Op: "gt", Threshold: 1}}}); err != nil {
		t.Fatal(err)
	}
	p := s.project(s.Credentials().ProjectID)
	sub := newSubscriber(nil)
	if _, ok := p.subscribe(sub); !ok {
		t.Fatal("subscribe failed")
	}
	for i := 0; i <= subscriberBuffer; i++ {
		state := "open"
		if i%2 == 1 {
			state = "closed"
		}
		if err := s.ForceState(p.ID, "a", state, 0); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-sub.kicked:
	default:
		t.Fatal("a subscriber that never reads was not dropped")
	}
	if n := s.SubscriberCount(p.ID); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
	if len(sub.ch) != subscriberBuffer {
		t.Fatalf("buffer holds %d events, want %d", len(sub.ch), subscriberBuffer)
	}
}

func newJSONEncoder(w *bytes.Buffer) *json.Encoder { return json.NewEncoder(w) }
