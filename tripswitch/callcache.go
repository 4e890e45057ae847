package tripswitch

import (
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// callCache keeps the compiled form of the unprepared calls a client sees,
// so that Execute with plain options (WithBreakers with one name,
// WithRouter, up to two constant or Latency metrics, WithTraceID) reuses a
// compiled call instead of compiling its options every time.
//
// The key is built from the option values on the stack and looked up in a
// fixed open-addressed table of atomic pointers to immutable entries: the
// read path takes no lock and allocates nothing. Misses compile the call
// as before and insert it under a mutex. The cache holds at most
// maxCachedCalls entries; once full, further option sets compile per call
// (a program that builds router IDs or breaker names per request should
// Prepare its calls instead). A cached call resolves its breaker once, as
// a prepared call does: it pins the breaker's cell in the state cache, so
// the cache pins at most maxCachedCalls cells.
//
// Measured in bench/compare on 2 vCPUs beside gobreaker's Execute (121 ns,
// 0 allocs; medians over 9 processes, see BENCHMARKS.md): Execute with
// WithBreakers, WithRouter and WithMetric("latency", Latency) takes
// 150 ns and allocates nothing (395 ns and 4 allocs, 160 B, compiling
// per call); with a one-entry WithMetrics map 211 ns and nothing (617 ns
// and 9 allocs, 264 B). A prepared call takes 105 ns.
type callCache struct {
	slots [cacheSlots]atomic.Pointer[cachedCall]
	mu    sync.Mutex
	n     int // entries, guarded by mu
}

type cachedCall struct {
	key  callKey
	core *callCore
}

// cacheSlots is the size of the open-addressed table (twice the entries).
const cacheSlots = 2 * maxCachedCalls

var (
	cacheSeed          = maphash.MakeSeed()
	shortSeed, lenSeed = rand.Uint64(), rand.Uint64()
)

// maxCachedCalls bounds the calls a client caches.
const maxCachedCalls = 256

// callKey identifies a cacheable set of call options.
type callKey struct {
	breaker string
	router  string
	traceID string
	metrics [2]metricKey
	n       uint8 // metrics used
	traced  bool  // WithTraceID given (it may be empty)
}

type metricKey struct {
	name  string
	kind  metricKind
	value uint64 // math.Float64bits of a constant
}

// cacheKey builds the key of opts; ok is false for options the cache does
// not handle (selectors, tags, functions, several breakers), for invalid
// ones (which the full path reports), and for calls without a router
// (which have a faster path of their own).
func cacheKey(opts []CallOption) (k callKey, ok bool) {
	breakerSet := false
	for _, o := range opts {
		switch o := o.(type) {
		case breakerOption:
			if breakerSet || o.name == "" {
				return k, false
			}
			k.breaker, breakerSet = o.name, true
		case routerOption:
			k.router = o.id
		case metricOption:
			if !k.addMetric(&o.m) {
				return k, false
			}
		case metricsOption:
			for i := range o.ms {
				if !k.addMetric(&o.ms[i]) {
					return k, false
				}
			}
		case traceIDOption:
			k.traceID, k.traced = o.id, true
		default:
			return k, false
		}
	}
	return k, k.router != ""
}

func (k *callKey) addMetric(m *metricSpec) bool {
	if m.kind == metricFunc || m.name == "" || int(k.n) == len(k.metrics) {
		return false
	}
	for _, o := range k.metrics[:k.n] {
		if o.name == m.name {
			return false // given twice: the full path reports it
		}
	}
	k.metrics[k.n] = metricKey{name: m.name, kind: m.kind, value: math.Float64bits(m.value)}
	k.n++
	return true
}

// hash mixes the key's strings. A Go map keyed by callKey spent about a
// quarter of the whole call hashing the key (CPU profile): its generic
// hasher visits every field, set or not.
func (k *callKey) hash() uint64 {
	h := strHash(k.router)
	h = h*31 + strHash(k.breaker)
	for i := range k.metrics[:k.n] {
		h = h*31 + strHash(k.metrics[i].name) + k.metrics[i].value + uint64(k.metrics[i].kind)
	}
	if k.traced {
		h = h*31 + strHash(k.traceID)
	}
	return h
}

// strHash hashes one string of a key. Names and router IDs are mostly
// short: up to 16 bytes, the first and last 8 (or 4, or single) bytes,
// which together cover the whole string, are mixed with the length in one
// 128-bit multiplication, at a third of the cost of maphash.String, which
// hashes longer strings. Only the probe sequence depends on the hash;
// entries are compared whole.
func strHash(s string) uint64 {
	n := len(s)
	var a, b uint64
	switch {
	case n > 16:
		return maphash.String(cacheSeed, s)
	case n >= 8:
		a, b = le64(s, 0), le64(s, n-8)
	case n >= 4:
		a, b = le32(s, 0), le32(s, n-4)
	case n > 0:
		a = uint64(s[0])<<16 | uint64(s[n/2])<<8 | uint64(s[n-1])
	}
	hi, lo := bits.Mul64(a^shortSeed, b^lenSeed^uint64(n))
	return hi ^ lo
}

// le64 reads 8 bytes of s at i, little-endian; the compiler merges the
// byte loads into one.
func le64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 reads 4 bytes of s at i, little-endian.
func le32(s string, i int) uint64 {
	s = s[i : i+4]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// routed reports whether opts include WithRouter: calls without one are
// never cached (gate-only calls have a faster path of their own), and
// telling them apart costs less than building their key.
func routed(opts []CallOption) bool {
	for _, o := range opts {
		if _, ok := o.(routerOption); ok {
			return true
		}
	}
	return false
}

// find returns the cached call for opts, or nil.
func (cc *callCache) find(opts []CallOption) *callCore {
	k, ok := cacheKey(opts)
	if !ok {
		return nil
	}
	for i, h := 0, k.hash(); i < cacheSlots; i, h = i+1, h+1 {
		e := cc.slots[h%cacheSlots].Load()
		if e == nil {
			return nil
		}
		if e.key == k {
			return e.core
		}
	}
	return nil
}

// add caches p, compiled from opts, unless the options are not cacheable
// or the cache is full. Entries are never removed. A cached p gets its
// breaker's cell from states, pinned; p must not be in use yet.
func (cc *callCache) add(opts []CallOption, p *callCore, states *stateCache) {
	k, ok := cacheKey(opts)
	if !ok {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.n >= maxCachedCalls {
		return
	}
	for i, h := 0, k.hash(); i < cacheSlots; i, h = i+1, h+1 {
		slot := &cc.slots[h%cacheSlots]
		e := slot.Load()
		if e == nil {
			if k.breaker != "" {
				p.cells = []*breakerCell{states.pin(k.breaker)}
			}
			slot.Store(&cachedCall{key: k, core: p})
			cc.n++
			return
		}
		if e.key == k {
			return
		}
	}
}

// metricOptions interns the options of WithMetrics maps with one Latency
// or constant metric, so that such a call allocates nothing: a returned
// CallOption built in a function that is not inlined would be allocated.
var metricOptions internTable

type internTable struct {
	slots [cacheSlots]atomic.Pointer[internedMetric]
	names atomic.Pointer[[]string] // the first few names interned
	mu    sync.Mutex
	n     int
}

// knownNames is how many interned metric names knownMetric tries.
const knownNames = 4

// knownMetric returns the entry of a one-entry metrics map when its name
// is one of the first metric names interned. Looking a name up in a small
// map costs a fraction of ranging over it, which draws a random starting
// point each time.
func knownMetric(metrics map[string]any) (name string, value any, ok bool) {
	if names := metricOptions.names.Load(); names != nil {
		for _, name := range *names {
			if value, ok := metrics[name]; ok {
				return name, value, true
			}
		}
	}
	return "", nil, false
}

type internedMetric struct {
	key metricKey
	opt CallOption
}

// internMetric returns the interned option of m, or nil when m is not
// internable (a function) or the table is full.
func internMetric(m *metricSpec) CallOption {
	if m.kind == metricFunc {
		return nil
	}
	k := metricKey{name: m.name, kind: m.kind, value: math.Float64bits(m.value)}
	t := &metricOptions
	h0 := strHash(k.name) + k.value
	for i, h := 0, h0; i < cacheSlots; i, h = i+1, h+1 {
		e := t.slots[h%cacheSlots].Load()
		if e == nil {
			break
		}
		if e.key == k {
			return e.opt
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n >= maxCachedCalls {
		return nil
	}
	for i, h := 0, h0; i < cacheSlots; i, h = i+1, h+1 {
		slot := &t.slots[h%cacheSlots]
		e := slot.Load()
		if e == nil {
			e = &internedMetric{key: k, opt: metricOption{*m}}
			slot.Store(e)
			t.n++
			t.noteName(k.name)
			return e.opt
		}
		if e.key == k {
			return e.opt
		}
	}
	return nil
}

// noteName adds name to the names knownMetric tries, until there are
// knownNames of them; t.mu is held.
func (t *internTable) noteName(name string) {
	var names []string
	if p := t.names.Load(); p != nil {
		names = *p
	}
	if len(names) >= knownNames || slices.Contains(names, name) {
		return
	}
	names = append(slices.Clip(names), name)
	t.names.Store(&names)
}
