package localserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by calls made after [Server.Shutdown].
var ErrClosed = errors.New("localserver: server closed")

// Server is a local Tripswitch server. All methods are safe for concurrent
// use. Create one with [New], serve it with [Server.Start] (or mount
// [Server.Handler] yourself) and stop it with [Server.Shutdown].
type Server struct {
	cfg Config
	log *slog.Logger

	seq atomic.Uint64 // creation order of every object, for listing and cursors

	mu          sync.RWMutex // guards the fields below; taken before any project's mu
	org         org
	workspaces  map[string]*workspace
	projects    map[string]*project
	keyIndex    map[keyHash]keyRef
	defaultWS   string
	defaultProj string
	defaultKey  string // raw project key created or fixed at start

	handler http.Handler
	idem    *idempotencyStore
	limiter *rateLimiter
	pending *pendingBodies

	closing   chan struct{} // closed by Shutdown; ends every stream
	closeOnce sync.Once
	closeErr  error
	closeDone chan struct{}

	dirty   chan struct{} // signalled after a change that must be persisted
	changes atomic.Uint64 // counts markDirty calls, for SyncWrites

	startMu  sync.Mutex
	started  bool
	httpSrv  *http.Server
	url      string
	stopLoop context.CancelFunc
	loopDone chan struct{}
	persistM sync.Mutex // serialises writes of DataFile
}

// keyRef locates a project key.
type keyRef struct {
	project *project
	key     *projectKey
}

// New creates a server. With cfg.DataFile set and the file present, the state
// stored there is loaded (a corrupt file is an error and is left untouched);
// the fixed credentials of cfg are then applied on top. New starts no
// goroutines.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		workspaces: map[string]*workspace{},
		projects:   map[string]*project{},
		keyIndex:   map[keyHash]keyRef{},
		idem:       newIdempotencyStore(),
		limiter:    newRateLimiter(cfg.RateLimit, cfg.RateBurst),
		pending:    newPendingBodies(cfg.MaxPendingBodies, cfg.MaxPendingBodyBytes),
		closing:    make(chan struct{}),
		closeDone:  make(chan struct{}),
		dirty:      make(chan struct{}, 1),
	}
	if cfg.DataFile != "" {
		doc, err := readDataFile(cfg.DataFile)
		if err != nil {
			return nil, err
		}
		if doc != nil {
			if err := s.restore(doc); err != nil {
				return nil, fmt.Errorf("localserver: data file %s: %w", cfg.DataFile, err)
			}
		}
	}
	if err := s.applyConfig(); err != nil {
		return nil, err
	}
	s.handler = s.withBodyDeadline(s.mux())
	return s, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }
func (s *Server) nowMs() int64   { return s.cfg.Now().UnixMilli() }
func (s *Server) nextSeq() uint64 {
	return s.seq.Add(1)
}

// applyConfig creates the organisation, default workspace, default project
// and their credentials, honouring the fixed values of the Config.
func (s *Server) applyConfig() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	if s.org.ID == "" {
		s.org = org{ID: newID("org_"), Name: "Local organisation", AdminKeyID: newID("key_"), InsertedAt: now}
	}
	if s.cfg.AdminKey != "" || s.org.adminKey == "" {
		k := s.cfg.AdminKey
		if k == "" {
			k = newAdminKey()
		}
		s.org.adminKey = k
		s.org.adminHash = hashKey(k)
	}
	wsID := s.cfg.WorkspaceID
	if wsID == "" {
		wsID = s.defaultWS
	}
	if wsID == "" {
		wsID = newID("ws_")
	}
	if _, ok := s.workspaces[wsID]; !ok {
		s.workspaces[wsID] = &workspace{seq: s.nextSeq(), ID: wsID, Name: "Default", Slug: s.uniqueSlugLocked("default"), InsertedAt: now}
	}
	s.defaultWS = wsID

	pID := s.cfg.ProjectID
	if pID == "" {
		pID = s.defaultProj
	}
	if pID == "" {
		pID = newID("proj_")
	}
	p, ok := s.projects[pID]
	if !ok {
		secret := s.cfg.IngestSecret
		if secret == "" {
			secret = newIngestSecret()
		}
		p = newProject(s.nextSeq(), pID, wsID, "Default project", secret, now, s.cfg.SampleLimit, s.cfg.SampleBytes)
		s.projects[pID] = p
	} else if s.cfg.IngestSecret != "" {
		p.setSecret(s.cfg.IngestSecret)
	}
	s.defaultProj = pID

	key := s.cfg.ProjectKey
	if key == "" && s.defaultKey != "" {
		if ref, ok := s.keyIndex[hashKey(s.defaultKey)]; ok && ref.project == p {
			key = s.defaultKey
		}
	}
	if key == "" {
		key = newProjectKey()
	}
	if ref, ok := s.keyIndex[hashKey(key)]; ok {
		if ref.project != p {
			return fmt.Errorf("localserver: ProjectKey already belongs to project %s", ref.project.ID)
		}
	} else {
		s.addKeyLocked(p, "default", key, now)
	}
	if hashKey(key) == s.org.adminHash {
		return errors.New("localserver: ProjectKey and AdminKey must differ")
	}
	s.defaultKey = key
	return nil
}

// addKeyLocked adds a project key; s.mu is held.
func (s *Server) addKeyLocked(p *project, name, key string, now time.Time) *projectKey {
	k := &projectKey{seq: s.nextSeq(), ID: newID("key_"), Name: name, key: key, hash: hashKey(key), InsertedAt: now}
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
	s.keyIndex[k.hash] = keyRef{project: p, key: k}
	return k
}

// Handler returns the HTTP handler of the whole API. It can be mounted on any
// server; only [Server.Start] runs the evaluation loop and the persister.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (for example "127.0.0.1:0") and serves in the
// background. It also starts the evaluation loop and, with DataFile set, the
// persister. With DataFile set, the state (and so every credential that
// [Server.Credentials] returns) is written before Start returns, so that
// credentials shown to a user survive a crash right after. It fails if the
// server was already started or shut down, or if DataFile cannot be
// written.
func (s *Server) Start(addr string) error {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	select {
	case <-s.closing:
		return ErrClosed
	default:
	}
	if s.started {
		return errors.New("localserver: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("localserver: listen: %w", err)
	}
	if s.cfg.DataFile != "" {
		if err := s.persist(); err != nil {
			_ = ln.Close()
			return err
		}
	}
	s.started = true
	s.url = "http://" + reachableAddr(ln.Addr())
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopLoop = cancel
	s.loopDone = make(chan struct{})
	go s.loops(ctx)
	srv := s.httpSrv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve failed", "err", err)
		}
	}()
	s.log.Info("listening", "url", s.url)
	return nil
}

// reachableAddr returns host:port of a listener, with an unspecified host
// (0.0.0.0 or ::) replaced by the loopback address of the same family.
func reachableAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	ip := net.IPv4(127, 0, 0, 1)
	if ta.IP.To4() == nil {
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// loops runs the evaluation loop and the persister until ctx ends.
func (s *Server) loops(ctx context.Context) {
	defer close(s.loopDone)
	var wg sync.WaitGroup
	wg.Go(func() { s.evalLoop(ctx) })
	if s.cfg.DataFile != "" {
		wg.Go(func() { s.persistLoop(ctx) })
	}
	wg.Wait()
}

// URL returns the base URL ("http://127.0.0.1:PORT") once Start has
// succeeded, and "" before.
func (s *Server) URL() string {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	return s.url
}

// Shutdown closes every state stream, stops the HTTP server and the loops,
// and writes DataFile when set. It honours ctx's deadline and is idempotent:
// later calls wait for the first and return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		close(s.closing)
	})
	if !first {
		select {
		case <-s.closeDone:
			return s.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var errs []error
	s.startMu.Lock()
	srv, stop, done := s.httpSrv, s.stopLoop, s.loopDone
	s.startMu.Unlock()
	if stop != nil {
		stop()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
		}
	}
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = srv.Close()
		}
	}
	if s.cfg.DataFile != "" {
		if err := s.persist(); err != nil {
			errs = append(errs, err)
		}
	}
	s.closeErr = errors.Join(errs...)
	close(s.closeDone)
	return s.closeErr
}

func (s *Server) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// Credentials are the credentials of the default organisation, workspace and
// project.
type Credentials struct {
	BaseURL      string // "" until Start succeeded
	AdminKey     string
	WorkspaceID  string
	ProjectID    string
	ProjectKey   string
	IngestSecret string // current secret, 64 hex characters
}

// Credentials returns the default credentials. IngestSecret reflects
// rotations.
func (s *Server) Credentials() Credentials {
	url := s.URL()
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := Credentials{
		BaseURL:     url,
		AdminKey:    s.org.adminKey,
		WorkspaceID: s.defaultWS,
		ProjectID:   s.defaultProj,
		ProjectKey:  s.defaultKey,
	}
	if p := s.projects[s.defaultProj]; p != nil {
		c.IngestSecret = p.secret.Load().hex
	}
	return c
}

// String hides the secrets of c.
func (c Credentials) String() string {
	return fmt.Sprintf("{BaseURL:%s WorkspaceID:%s ProjectID:%s AdminKey:%s ProjectKey:%s IngestSecret:[redacted]}",
		c.BaseURL, c.WorkspaceID, c.ProjectID, redact(c.AdminKey), redact(c.ProjectKey))
}

// GoString hides the secrets of c, as String does.
func (c Credentials) GoString() string { return "localserver.Credentials" + c.String() }

func redact(k string) string {
	if k == "" {
		return ""
	}
	return keyPrefixOf(k) + "…"
}

// markDirty schedules a write of DataFile.
func (s *Server) markDirty() {
	if s.cfg.DataFile == "" {
		return
	}
	s.changes.Add(1)
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// project returns a live project by ID.
func (s *Server) project(id string) *project {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.projects[id]
}

func (s *Server) projectList() []*project {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*project, 0, len(s.projects))
	for _, p := range s.projects {
		out = append(out, p)
	}
	return out
}
