package localserver

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
)

// Config configures a [Server]. The zero value is valid: every credential is
// generated and state lives in memory only.
type Config struct {
	// AdminKey is the organisation's admin key ("eb_admin_…"). Empty means a
	// generated key (or the one stored in DataFile).
	AdminKey string
	// WorkspaceID is the ID of the default workspace. Empty means a generated
	// "ws_…" ID (or the one stored in DataFile).
	WorkspaceID string
	// ProjectID is the ID of the default project. Empty means a generated
	// "proj_…" ID (or the one stored in DataFile).
	ProjectID string
	// ProjectKey is a project key ("eb_pk_…") of the default project. Empty
	// means a generated key (or the one stored in DataFile).
	ProjectKey string
	// IngestSecret is the default project's ingest secret: 64 hex characters,
	// optionally prefixed with "ik_". Empty means a generated secret (or the
	// one stored in DataFile).
	IngestSecret string
	// Now is the clock used for breaker evaluation, ingest timestamp checks
	// and every timestamp the server reports. Nil means time.Now.
	//
	// Deprecated: Now is a test setting; tests start servers with
	// localservertest.Start and localservertest.WithClock. It keeps working.
	Now func() time.Time
	// PingInterval is the period of the ": ping" comments on state streams.
	// Zero means 15s.
	//
	// Deprecated: PingInterval is a test setting; tests use
	// localservertest.WithPingInterval. It keeps working.
	PingInterval time.Duration
	// DataFile is the JSON file that holds all state across restarts. Empty
	// means in-memory only.
	DataFile string
	// Logger receives the server's logs. Nil discards them. Credentials and
	// signatures are never logged.
	Logger *slog.Logger

	// BareResponses makes the calls of the management API that have two
	// documented response shapes answer the bare one (a Breaker instead of
	// {"breaker": …}, [Breaker] instead of {"breakers": […]}, [BreakerState]
	// instead of {"states": […]}, a Router instead of {"router": …}). The
	// default is the wrapped shape.
	BareResponses bool
	// RateLimit is the number of requests per second allowed for each
	// credential (admin key, project key, or project for ingest), with bursts
	// of RateBurst. Zero disables rate limiting (the default). Requests over
	// the limit get 429 with Retry-After.
	RateLimit float64
	// RateBurst is the burst size of RateLimit. Zero means max(1, RateLimit).
	RateBurst int
	// EvalTick is how often the evaluation loop started by Start looks for
	// breakers that are due. Zero means 100ms.
	//
	// Deprecated: EvalTick is a test setting; tests use
	// localservertest.WithEvalTick. It keeps working.
	EvalTick time.Duration
	// SampleLimit is the number of most recent samples kept per project for
	// [Server.Samples]. Zero means 100,000; older samples are forgotten.
	SampleLimit int
	// SampleBytes bounds the memory held by the samples kept per project
	// for [Server.Samples], estimated from their fields, tags and trace
	// IDs. Zero means 64 MiB; the oldest samples are forgotten first, so
	// that a project keeps at most SampleLimit samples and at most
	// SampleBytes of them.
	SampleBytes int64
	// SampleWindow is how far a sample's ts_ms may lie from the server's
	// clock, in either direction. Samples further away are refused: the
	// ingest response counts them as "rejected" and the rest of the batch
	// is accepted. Samples stamped in the future (within the window) are
	// evaluated as if they arrived now, so that no sample keeps a breaker
	// open longer than the breaker's own window. Zero means 5 minutes
	// (localservertest.Start makes it a century, so that tests may use
	// fixed dates).
	SampleWindow time.Duration
	// BodyReadTimeout bounds the time to receive a request body once its
	// headers have arrived. A client that is slower gets 408 and its
	// connection is closed. Zero means 30s.
	BodyReadTimeout time.Duration
	// MaxPendingBodies is how many ingest bodies may be read at once before
	// their signature can be checked. Requests beyond it get 503 with
	// Retry-After at once, without their body being read. Zero means 64.
	MaxPendingBodies int
	// MaxPendingBodyBytes bounds the memory of the ingest bodies read
	// before their signature can be checked: each reserves its
	// Content-Length (5 MiB when the length is not sent) until it is
	// checked, and a request whose reservation does not fit gets 503 with
	// Retry-After at once. Zero means 32 MiB.
	MaxPendingBodyBytes int64
	// PersistDelay is the debounce delay between a change and the write of
	// DataFile. Zero means one second. A process killed without Shutdown
	// (kill -9, a crash, power loss) loses the changes of at most the last
	// PersistDelay, unless SyncWrites is set.
	PersistDelay time.Duration
	// SyncWrites makes every management API request that changes state
	// write DataFile before it is answered, so that an acknowledged change
	// survives any crash. Breaker transitions and key use times are still
	// written after PersistDelay. It has no effect without DataFile.
	SyncWrites bool
}

const (
	defaultPingInterval = 15 * time.Second
	defaultEvalTick     = 100 * time.Millisecond
	defaultSampleLimit  = 100_000
	defaultPersistDelay = time.Second
	defaultSampleBytes  = 64 << 20
	defaultSampleWindow = 5 * time.Minute
	defaultBodyTimeout  = 30 * time.Second
	defaultPendingN     = 64
	defaultPendingBytes = 32 << 20
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)

// normalize fills defaults and checks the fixed credentials.
func (c Config) normalize() (Config, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PingInterval <= 0 {
		c.PingInterval = defaultPingInterval
	}
	if c.EvalTick <= 0 {
		c.EvalTick = defaultEvalTick
	}
	if c.SampleLimit <= 0 {
		c.SampleLimit = defaultSampleLimit
	}
	if c.PersistDelay <= 0 {
		c.PersistDelay = defaultPersistDelay
	}
	if c.SampleBytes <= 0 {
		c.SampleBytes = defaultSampleBytes
	}
	if c.SampleWindow <= 0 {
		c.SampleWindow = defaultSampleWindow
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = defaultBodyTimeout
	}
	if c.MaxPendingBodies <= 0 {
		c.MaxPendingBodies = defaultPendingN
	}
	if c.MaxPendingBodyBytes <= 0 {
		c.MaxPendingBodyBytes = defaultPendingBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RateLimit < 0 {
		return c, fmt.Errorf("localserver: RateLimit must not be negative")
	}
	if c.RateLimit > 0 && c.RateBurst <= 0 {
		c.RateBurst = max(1, int(c.RateLimit))
	}
	if c.AdminKey != "" && (!strings.HasPrefix(c.AdminKey, adminKeyPrefix) || !validKeyChars(c.AdminKey)) {
		return c, fmt.Errorf("localserver: AdminKey must start with %q and contain only letters, digits, '_' or '-'", adminKeyPrefix)
	}
	if c.ProjectKey != "" && (!strings.HasPrefix(c.ProjectKey, projectKeyPrefix) || !validKeyChars(c.ProjectKey)) {
		return c, fmt.Errorf("localserver: ProjectKey must start with %q and contain only letters, digits, '_' or '-'", projectKeyPrefix)
	}
	if c.WorkspaceID != "" && !idPattern.MatchString(c.WorkspaceID) {
		return c, fmt.Errorf("localserver: WorkspaceID must be 1 to 64 letters, digits, '_' or '-'")
	}
	if c.ProjectID != "" && !idPattern.MatchString(c.ProjectID) {
		return c, fmt.Errorf("localserver: ProjectID must be 1 to 64 letters, digits, '_' or '-'")
	}
	if c.IngestSecret != "" {
		s, err := normalizeSecret(c.IngestSecret)
		if err != nil {
			return c, err
		}
		c.IngestSecret = s
	}
	return c, nil
}

func validKeyChars(s string) bool {
	if len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

// normalizeSecret strips an optional "ik_" prefix and checks that 64 hex
// characters remain. The error never contains the secret.
func normalizeSecret(s string) (string, error) {
	s = strings.TrimPrefix(s, "ik_")
	if len(s) != 64 {
		return "", fmt.Errorf("localserver: ingest secret must be 64 hex characters (optionally prefixed with \"ik_\"), got %d characters", len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("localserver: ingest secret must be 64 hex characters (optionally prefixed with \"ik_\")")
	}
	return strings.ToLower(s), nil
}
