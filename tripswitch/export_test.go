package tripswitch

import "time"

// Test seams.

func WithRandom(fn func() float64) Option {
	return optionFunc(func(c *config) { c.randFloat = fn })
}

func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now, c.fakeClock = now, true })
}

func WithReconnectBackoff(steps ...time.Duration) Option {
	return optionFunc(func(c *config) { c.backoff = steps })
}

// SetState puts a breaker state straight into the cache, as if an event had
// arrived, and marks the state fresh.
func (c *Client) SetState(name string, st State, allowRate float64) {
	c.states.apply(name, st, allowRate, c.now())
	c.fresh.Store(true)
}

// WithMaxBreakers lowers the limit on breakers the stream may add.
func WithMaxBreakers(n int) Option {
	return optionFunc(func(c *config) { c.maxBreakers = n })
}
