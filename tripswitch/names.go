package tripswitch

import (
	"sync"
	"sync/atomic"

	"github.com/tripswitch-otel/tripswitch-go/internal/wire"
)

// maxNotedNames bounds how many distinct unknown breaker names (and,
// separately, router IDs) a client remembers for the warning below.
const maxNotedNames = 1024

// nameLog remembers breaker names and router IDs used in calls that the
// client has no state or metadata for, so that a typo is reported once
// after the next metadata sync instead of being accepted silently. Names
// are noted only when a lookup has already missed, so calls on known
// breakers pay nothing.
type nameLog struct {
	breakers, routers notedSet
}

func (l *nameLog) noteBreaker(name string) { l.breakers.note(name) }

// noteRouters records the router IDs of a batch about to be delivered.
func (l *nameLog) noteRouters(batch []wire.Sample) {
	last := ""
	for i := range batch {
		if id := batch[i].RouterID; id != last {
			l.routers.note(id)
			last = id
		}
	}
}

// notedSet is a bounded set of names, each with a warned-once flag.
type notedSet struct {
	names sync.Map // string → *atomic.Bool (warned)
	n     atomic.Int64
}

func (s *notedSet) note(name string) {
	if _, ok := s.names.Load(name); ok || s.n.Load() >= maxNotedNames {
		return
	}
	if _, loaded := s.names.LoadOrStore(name, new(atomic.Bool)); !loaded {
		s.n.Add(1)
	}
}

// check compares the noted names with the project's: names the project has
// are forgotten, the others are returned once each.
func (s *notedSet) check(has func(string) bool) (missing []string) {
	s.names.Range(func(k, v any) bool {
		name := k.(string)
		if has(name) {
			s.names.Delete(name)
			s.n.Add(-1)
		} else if v.(*atomic.Bool).CompareAndSwap(false, true) {
			missing = append(missing, name)
		}
		return true
	})
	return missing
}

// warnUnknownNames logs, once per name, the breakers and routers used in
// calls that the project's metadata does not list.
func (c *Client) warnUnknownNames() {
	if p := c.meta.breakers.Load(); p != nil {
		have := make(map[string]bool, len(*p))
		for _, b := range *p {
			have[b.Name] = true
		}
		for _, name := range c.names.breakers.check(func(n string) bool { return have[n] }) {
			c.logger.Warn("tripswitch: calls name a breaker the project does not have; it counts as closed",
				"breaker", name, "project", c.projectID)
		}
	}
	if p := c.meta.routers.Load(); p != nil {
		have := make(map[string]bool, len(*p))
		for _, r := range *p {
			have[r.ID] = true
		}
		for _, id := range c.names.routers.check(func(n string) bool { return have[n] }) {
			c.logger.Warn("tripswitch: samples go to a router the project does not have; the server will not evaluate them",
				"router", id, "project", c.projectID)
		}
	}
}
