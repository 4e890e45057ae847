package localserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// Retention limits of per-project history.
const maxEventsPerProject = 10_000

// org is the single organisation of a server; its admin key is the only
// credential of the management API.
type org struct {
	ID         string
	Name       string
	AdminKeyID string
	adminKey   string // raw; kept to print it and to persist it
	adminHash  keyHash
	InsertedAt time.Time
}

type workspace struct {
	seq        uint64
	ID         string
	Name       string
	Slug       string
	InsertedAt time.Time
}

type projectKey struct {
	seq        uint64
	ID         string
	Name       string
	key        string // raw
	hash       keyHash
	InsertedAt time.Time
	lastUsedMs atomic.Int64
}

// ingestKey is a project's current ingest secret, swapped atomically on
// rotation so that the next request uses the new one.
type ingestKey struct {
	hex string
	raw []byte
	id  string // fingerprint naming the secret in idempotency scopes
}

// project holds everything of one project. mu guards every field below it;
// the server's mu is always taken before a project's mu, never after.
type project struct {
	seq        uint64
	ID         string
	InsertedAt time.Time
	secret     atomic.Pointer[ingestKey]

	mu                 sync.Mutex
	deleted            bool
	WorkspaceID        string
	Name               string
	SlackWebhookURL    string
	TraceIDURLTemplate string
	EnableSignedIngest bool
	keys               []*projectKey
	breakers           map[string]*breaker // by ID
	byName             map[string]*breaker
	routers            map[string]*router
	channels           map[string]*channel
	events             []*event                         // oldest first, at most maxEventsPerProject
	index              map[string]map[string][]*breaker // router ID → metric → breakers
	samples            sampleQueue
	subs               map[*subscriber]struct{}
	lastEvalMs         int64
	configChangedAt    time.Time
}

func newProject(seq uint64, id, wsID, name string, secret string, now time.Time, sampleLimit int, sampleBytes int64) *project {
	p := &project{
		seq:                seq,
		ID:                 id,
		InsertedAt:         now,
		WorkspaceID:        wsID,
		Name:               name,
		EnableSignedIngest: true,
		breakers:           map[string]*breaker{},
		byName:             map[string]*breaker{},
		routers:            map[string]*router{},
		channels:           map[string]*channel{},
		index:              map[string]map[string][]*breaker{},
		subs:               map[*subscriber]struct{}{},
		samples:            sampleQueue{limit: sampleLimit, maxBytes: sampleBytes},
		configChangedAt:    now,
	}
	p.setSecret(secret)
	return p
}

// setSecret installs a secret already checked by normalizeSecret.
func (p *project) setSecret(hexSecret string) {
	raw, _ := hex.DecodeString(hexSecret)
	sum := sha256.Sum256(raw)
	p.secret.Store(&ingestKey{hex: hexSecret, raw: raw, id: hex.EncodeToString(sum[:8])})
}

type breaker struct {
	seq        uint64
	ID         string
	spec       breakerSpec
	routerIDs  []string
	eng        *engine.Breaker
	state      engine.State
	allowRate  float64
	stateAt    time.Time // last state change
	InsertedAt time.Time
	UpdatedAt  time.Time
}

// syncState refreshes the cached state from the engine.
func (b *breaker) syncState() {
	b.state, b.allowRate = b.eng.State()
}

type router struct {
	seq         uint64
	ID          string
	Name        string
	Description string
	Mode        string
	Enabled     bool
	Metadata    map[string]string
	InsertedAt  time.Time
	UpdatedAt   time.Time
	CreatedBy   string
}

type channel struct {
	seq       uint64
	ID        string
	Name      string
	Channel   string
	Config    json.RawMessage
	Events    []string
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

type event struct {
	seq         uint64
	ID          string
	BreakerID   string
	BreakerName string
	From        string
	To          string
	AllowRate   float64
	Reason      string
	Timestamp   time.Time
}

// rebuildIndex recomputes the router → metric → breakers routing index.
// Callers hold p.mu.
func (p *project) rebuildIndex() {
	idx := make(map[string]map[string][]*breaker, len(p.routers))
	for _, b := range p.sortedBreakers() {
		for _, rid := range b.routerIDs {
			m := idx[rid]
			if m == nil {
				m = map[string][]*breaker{}
				idx[rid] = m
			}
			m[b.spec.Metric] = append(m[b.spec.Metric], b)
		}
	}
	p.index = idx
}

func (p *project) sortedBreakers() []*breaker {
	out := make([]*breaker, 0, len(p.breakers))
	for _, b := range p.breakers {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b *breaker) int { return cmpSeq(a.seq, b.seq) })
	return out
}

func (p *project) sortedRouters() []*router {
	out := make([]*router, 0, len(p.routers))
	for _, r := range p.routers {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *router) int { return cmpSeq(a.seq, b.seq) })
	return out
}

func (p *project) sortedChannels() []*channel {
	out := make([]*channel, 0, len(p.channels))
	for _, c := range p.channels {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *channel) int { return cmpSeq(a.seq, b.seq) })
	return out
}

// routerBreakers lists the breakers linked to router id, in creation order.
func (p *project) routerBreakers(id string) []*breaker {
	var out []*breaker
	for _, b := range p.sortedBreakers() {
		if slices.Contains(b.routerIDs, id) {
			out = append(out, b)
		}
	}
	return out
}

func (p *project) appendEvent(e *event) {
	if len(p.events) >= maxEventsPerProject {
		// Forget the oldest tenth at once so that trimming stays cheap.
		n := copy(p.events, p.events[maxEventsPerProject/10:])
		clear(p.events[n:])
		p.events = p.events[:n]
	}
	p.events = append(p.events, e)
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cloneStringMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sampleQueue keeps the most recent samples: at most limit of them, and
// at most maxBytes by sampleSize. The oldest are forgotten first. It is a
// ring that grows up to limit entries.
type sampleQueue struct {
	ring     []Sample // ring[start], … ring[(start+n-1)%len(ring)], oldest first
	sizes    []int32  // sampleSize of each entry of ring
	start, n int
	bytes    int64
	limit    int
	maxBytes int64
}

// sampleOverhead estimates the memory of a sample beyond its strings: the
// Sample itself and string headers; tagOverhead is that of one tag entry.
const (
	sampleOverhead = int64(unsafe.Sizeof(Sample{}))
	tagOverhead    = 48
)

// sampleSize estimates the memory a kept sample holds. Tag maps shared by
// the samples of one batch are counted for each of them, so the estimate
// errs on the safe side.
func sampleSize(s *Sample) int64 {
	n := sampleOverhead + int64(len(s.RouterID)+len(s.Metric)+len(s.TraceID))
	for k, v := range s.Tags {
		n += tagOverhead + int64(len(k)+len(v))
	}
	return n
}

func (q *sampleQueue) add(s Sample) {
	if q.n == q.limit {
		q.pop()
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	i := (q.start + q.n) % len(q.ring)
	size := sampleSize(&s)
	q.ring[i], q.sizes[i] = s, int32(min(size, 1<<31-1))
	q.n++
	q.bytes += size
	for q.bytes > q.maxBytes && q.n > 1 {
		q.pop()
	}
}

// pop forgets the oldest sample.
func (q *sampleQueue) pop() {
	q.bytes -= int64(q.sizes[q.start])
	q.ring[q.start] = Sample{}
	q.start = (q.start + 1) % len(q.ring)
	q.n--
}

func (q *sampleQueue) grow() {
	c := min(q.limit, max(64, 2*len(q.ring)))
	ring, sizes := make([]Sample, c), make([]int32, c)
	q.copyTo(ring)
	k := copy(sizes, q.sizes[q.start:min(q.start+q.n, len(q.sizes))])
	copy(sizes[k:], q.sizes[:q.n-k])
	q.ring, q.sizes, q.start = ring, sizes, 0
}

// at returns the i-th kept sample, oldest first (0 ≤ i < q.n).
func (q *sampleQueue) at(i int) *Sample { return &q.ring[(q.start+i)%len(q.ring)] }

// copyTo copies the kept samples, oldest first, to dst.
func (q *sampleQueue) copyTo(dst []Sample) {
	k := copy(dst, q.ring[q.start:min(q.start+q.n, len(q.ring))])
	copy(dst[k:], q.ring[:q.n-k])
}

func (q *sampleQueue) all() []Sample {
	out := make([]Sample, q.n)
	q.copyTo(out)
	return out
}
