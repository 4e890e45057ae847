package tripswitch_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// TestStateChangesCoalescedUnderBlockedCallback flaps a breaker while the
// StateChange hook is blocked: Stats counts the merged changes, and once
// the hook returns it learns the breaker's latest state.
func TestStateChangesCoalescedUnderBlockedCallback(t *testing.T) {
	f := newFakeServer(t)
	block := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var last string
	c := newTestClient(t, f, tripswitch.WithStateChangeCallback(func(name string, from, to tripswitch.State) {
		once.Do(func() { close(entered) })
		<-block
		mu.Lock()
		last = to.String()
		mu.Unlock()
	}))
	f.send("checkout", "open", 0)
	<-entered
	const flaps = 3000 // beyond the 1024 changes queued before merging
	states := []string{"closed", "open"}
	for i := range flaps {
		f.sendRaw(fmt.Sprintf("data: {\"breaker\":\"checkout\",\"state\":%q,\"allow_rate\":1}\n\n", states[i%2]))
	}
	final := states[(flaps-1)%2]
	eventually(t, "every event applied", func() bool {
		st, _ := c.State("checkout")
		return st.State.String() == final && c.Stats().StateChangesCoalesced >= flaps-1024
	})
	close(block)
	eventually(t, "the hook learns the latest state", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return last == final
	})
}
