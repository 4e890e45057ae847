package tripswitch

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/r3labs/sse/v2"
)

// FuzzStreamEvents feeds arbitrary bytes through the state stream's event
// framing, field parsing and state decoding: nothing may panic, and every
// applied event must leave a valid state in the cache.
func FuzzStreamEvents(f *testing.F) {
	for _, seed := range []string{
		"data: {\"breaker\":\"checkout\",\"state\":\"open\",\"allow_rate\":0}\n\n",
		"data: {\"breaker\":\"a\",\"state\":\"half_open\",\"allow_rate\":null}\n\n",
		": ping\n\n",
		"event: state\r\nid: 1\r\ndata: {\"breaker\":\"b\",\r\ndata: \"state\":\"closed\"}\r\n\r\n",
		"data:{\"breaker\":\"c\",\"state\":\"half_open\",\"allow_rate\":1e308}\n\n",
		"data: [1,2,3]\n\ndata: \"str\"\n\n",
		"data: {\"breaker\":\"\\ud800\",\"state\":\"open\"}\r\r",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		c, err := build("proj_fuzz", defaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		c.callbacks = newDispatcher(c)
		r := sse.NewEventStreamReader(bytes.NewReader(stream), maxEventBytes)
		for {
			raw, err := r.ReadEvent()
			if err != nil {
				if err != io.EOF && !strings.Contains(err.Error(), "token too long") {
					t.Fatalf("ReadEvent: %v", err)
				}
				break
			}
			if data, ok := eventData(raw); ok {
				c.handleEvent(data)
			}
		}
		for name, st := range c.States() {
			if st.State > StateHalfOpen || !(st.AllowRate >= 0 && st.AllowRate <= 1) || name == "" {
				t.Fatalf("invalid cached state %q: %+v", name, st)
			}
		}
	})
}

// FuzzDecodeStateEvent checks that decoding either fails or yields a
// valid event.
func FuzzDecodeStateEvent(f *testing.F) {
	f.Add([]byte(`{"breaker":"checkout","state":"open","allow_rate":0}`))
	f.Add([]byte(`{"breaker":"x","state":"half_open","allow_rate":-1}`))
	f.Add([]byte(`{"breaker":"x","state":"closed","allow_rate":"1"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, st, err := decodeStateEvent(data)
		if err != nil {
			return
		}
		if ev.Breaker == "" || st > StateHalfOpen {
			t.Fatalf("accepted invalid event %+v", ev)
		}
		if ev.AllowRate != nil && !(*ev.AllowRate >= 0 && *ev.AllowRate <= 1) {
			t.Fatalf("accepted allow_rate %v", *ev.AllowRate)
		}
	})
}
