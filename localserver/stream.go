package localserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

const (
	// subscriberBuffer is how many state events may wait for one stream; a
	// stream that falls further behind is closed so that its client
	// reconnects and receives a fresh snapshot.
	subscriberBuffer = 256
	// streamWriteTimeout bounds one write to a stream's connection.
	streamWriteTimeout = 30 * time.Second
)

// subscriber is one open state stream.
type subscriber struct {
	key    *projectKey // the key that opened the stream; nil when unknown
	ch     chan []byte
	kicked chan struct{}
	once   sync.Once
}

func newSubscriber(key *projectKey) *subscriber {
	return &subscriber{key: key, ch: make(chan []byte, subscriberBuffer), kicked: make(chan struct{})}
}

func (sub *subscriber) kick() { sub.once.Do(func() { close(sub.kicked) }) }

// stateEvent is the data of one stream event.
type stateEvent struct {
	Breaker   string  `json:"breaker"`
	State     string  `json:"state"`
	AllowRate float64 `json:"allow_rate"`
}

func encodeStateEvent(b *breaker) []byte {
	data, _ := json.Marshal(stateEvent{Breaker: b.spec.Name, State: string(b.state), AllowRate: b.allowRate})
	msg := make([]byte, 0, len(data)+8)
	msg = append(msg, "data: "...)
	msg = append(msg, data...)
	return append(msg, '\n', '\n')
}

// publishLocked sends b's current state to every stream of p without
// blocking; a stream whose buffer is full is closed. p.mu is held.
func (s *Server) publishLocked(p *project, b *breaker) {
	if len(p.subs) == 0 {
		return
	}
	msg := encodeStateEvent(b)
	for sub := range p.subs {
		select {
		case sub.ch <- msg:
		default:
			sub.kick()
			delete(p.subs, sub)
			s.log.Warn("state stream closed: client too slow", "project_id", p.ID)
		}
	}
}

// closeSubscribersLocked ends every stream of p; p.mu is held.
func (p *project) closeSubscribersLocked() {
	for sub := range p.subs {
		sub.kick()
	}
	clear(p.subs)
}

// closeKeySubscribersLocked ends the streams opened with key k; p.mu is
// held.
func (p *project) closeKeySubscribersLocked(k *projectKey) {
	for sub := range p.subs {
		if sub.key == k {
			sub.kick()
			delete(p.subs, sub)
		}
	}
}

// subscribe registers a stream and returns the snapshot it must start with,
// atomically with respect to state changes. It fails when the project was
// deleted or the stream's key revoked since the request was authenticated.
func (p *project) subscribe(sub *subscriber) ([][]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted || sub.key != nil && !slices.Contains(p.keys, sub.key) {
		return nil, false
	}
	bs := p.sortedBreakers()
	snap := make([][]byte, len(bs))
	for i, b := range bs {
		snap[i] = encodeStateEvent(b)
	}
	p.subs[sub] = struct{}{}
	return snap, true
}

func (p *project) unsubscribe(sub *subscriber) {
	p.mu.Lock()
	delete(p.subs, sub)
	p.mu.Unlock()
}

// stream serves GET …/breakers/state:stream: a snapshot of every breaker,
// then each change, with ": ping" comments every PingInterval.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, p *project) error {
	if s.isClosing() {
		return errf(http.StatusServiceUnavailable, "unavailable", "server is shutting down")
	}
	sub := newSubscriber(requestKey(r))
	snap, ok := p.subscribe(sub)
	if !ok {
		if p.isDeleted() {
			return notFound("project", p.ID)
		}
		return errf(http.StatusUnauthorized, codeUnauthorized, "invalid API key")
	}
	defer p.unsubscribe(sub)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := w.Write(b)
		return err == nil
	}
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		return rc.Flush() == nil
	}
	if !write([]byte(": connected\n\n")) {
		return nil
	}
	for _, msg := range snap {
		if !write(msg) {
			return nil
		}
	}
	if !flush() {
		return nil
	}
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case msg := <-sub.ch:
			if !write(msg) {
				return nil
			}
			for more := true; more; {
				select {
				case msg := <-sub.ch:
					if !write(msg) {
						return nil
					}
				default:
					more = false
				}
			}
			if !flush() {
				return nil
			}
		case <-ping.C:
			if !write([]byte(": ping\n\n")) || !flush() {
				return nil
			}
		case <-sub.kicked:
			return nil
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		}
	}
}

func (p *project) isDeleted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleted
}
