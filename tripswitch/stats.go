package tripswitch

import "time"

// Stats is a snapshot of the client's health. Produced = Delivered +
// Dropped + Buffered holds in every snapshot.
type Stats struct {
	Produced  uint64 // samples created by calls and Report
	Delivered uint64 // samples the server accepted
	Dropped   uint64 // samples given up: buffer overflow, refused by the server, beyond the ingest limits, after Close
	Invalid   uint64 // of Dropped: samples of calls beyond the ingest limits (see Sample), never sent
	// Buffered is the samples waiting for delivery, including the batches
	// in flight. It exceeds BufferCapacity by at most one batch per
	// request in flight (WithMaxInFlightBatches): the buffer fills up
	// again while they are being delivered.
	Buffered            int
	BufferCapacity      int       // the most samples held
	StreamConnected     bool      // the state stream is connected
	StreamReconnects    uint64    // state stream connections after the first
	FlushFailures       uint64    // failed delivery attempts
	LastSuccessfulFlush time.Time // zero before the first delivery
	LastStreamEvent     time.Time // zero before the first state event
	CachedBreakers      int       // breakers in the state cache
	// LastDeliveryError is the error of the latest failed delivery
	// attempt (often a *DeliveryError); nil before the first failure.
	// Compare LastSuccessfulFlush to tell whether delivery recovered.
	LastDeliveryError error
	// StateChangesCoalesced counts state changes merged into a later one
	// because the StateChange hook fell behind (see Hooks.StateChange).
	StateChangesCoalesced uint64
}

// Stats returns a snapshot of the client's health.
func (c *Client) Stats() Stats {
	pc := c.pipe.counts()
	s := Stats{
		Produced:         pc.produced,
		Delivered:        pc.delivered,
		Dropped:          pc.dropped,
		Invalid:          pc.invalid,
		Buffered:         pc.buffered,
		BufferCapacity:   c.cfg.bufferCapacity,
		StreamConnected:  c.stream.connected.Load(),
		StreamReconnects: c.stream.reconnects.Load(),
		FlushFailures:    c.flushFails.Load(),
		CachedBreakers:   c.states.known(),
	}
	if n := c.lastFlush.Load(); n != 0 {
		s.LastSuccessfulFlush = time.Unix(0, n)
	}
	if n := c.stream.lastEvent.Load(); n != 0 {
		s.LastStreamEvent = time.Unix(0, n)
	}
	if err := c.lastDeliveryErr.Load(); err != nil {
		s.LastDeliveryError = *err
	}
	if c.callbacks != nil {
		s.StateChangesCoalesced = c.callbacks.coalesced.Load()
	}
	return s
}
