package localserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

const dataVersion = 1

// dataDoc is the JSON document of DataFile. It holds credentials in clear:
// the file is written with mode 0600.
type dataDoc struct {
	Version            int          `json:"version"`
	Seq                uint64       `json:"seq"`
	Org                orgDoc       `json:"org"`
	DefaultWorkspaceID string       `json:"default_workspace_id"`
	DefaultProjectID   string       `json:"default_project_id"`
	DefaultProjectKey  string       `json:"default_project_key"`
	Workspaces         []wsDoc      `json:"workspaces"`
	Projects           []projectDoc `json:"projects"`
}

type orgDoc struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	AdminKeyID string    `json:"admin_key_id"`
	AdminKey   string    `json:"admin_key"`
	InsertedAt time.Time `json:"inserted_at"`
}

type wsDoc struct {
	Seq        uint64    `json:"seq"`
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Slug       string    `json:"slug"`
	InsertedAt time.Time `json:"inserted_at"`
}

type projectDoc struct {
	Seq                uint64       `json:"seq"`
	ID                 string       `json:"id"`
	WorkspaceID        string       `json:"workspace_id"`
	Name               string       `json:"name"`
	SlackWebhookURL    string       `json:"slack_webhook_url,omitempty"`
	TraceIDURLTemplate string       `json:"trace_id_url_template,omitempty"`
	EnableSignedIngest bool         `json:"enable_signed_ingest"`
	IngestSecret       string       `json:"ingest_secret"`
	InsertedAt         time.Time    `json:"inserted_at"`
	ConfigChangedAt    time.Time    `json:"config_changed_at"`
	LastEvalMs         int64        `json:"last_eval_ms,omitempty"`
	Keys               []keyDoc     `json:"keys"`
	Routers            []routerDoc  `json:"routers"`
	Breakers           []breakerDoc `json:"breakers"`
	Channels           []channelDoc `json:"channels"`
	Events             []eventDoc   `json:"events"`
}

type keyDoc struct {
	Seq        uint64    `json:"seq"`
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Key        string    `json:"key"`
	InsertedAt time.Time `json:"inserted_at"`
	LastUsedMs int64     `json:"last_used_ms,omitempty"`
}

type routerDoc struct {
	Seq         uint64            `json:"seq"`
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Mode        string            `json:"mode"`
	Enabled     bool              `json:"enabled"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	InsertedAt  time.Time         `json:"inserted_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	CreatedBy   string            `json:"created_by,omitempty"`
}

type breakerDoc struct {
	Seq        uint64      `json:"seq"`
	ID         string      `json:"id"`
	Spec       breakerSpec `json:"spec"`
	RouterIDs  []string    `json:"router_ids,omitempty"`
	State      string      `json:"state"`
	AllowRate  float64     `json:"allow_rate"`
	StateAt    time.Time   `json:"state_at"`
	InsertedAt time.Time   `json:"inserted_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

type channelDoc struct {
	Seq       uint64          `json:"seq"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Channel   string          `json:"channel"`
	Config    json.RawMessage `json:"config,omitempty"`
	Events    []string        `json:"events"`
	Enabled   bool            `json:"enabled"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type eventDoc struct {
	Seq         uint64    `json:"seq"`
	ID          string    `json:"id"`
	BreakerID   string    `json:"breaker_id"`
	BreakerName string    `json:"breaker_name"`
	From        string    `json:"from_state"`
	To          string    `json:"to_state"`
	AllowRate   float64   `json:"allow_rate"`
	Reason      string    `json:"reason,omitempty"`
	Timestamp   time.Time `json:"timestamp"`
}

// readDataFile loads path. A missing or empty file is (nil, nil); anything
// unreadable is an error, and the file is left as it is.
func readDataFile(path string) (*dataDoc, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("localserver: reading data file: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	var doc dataDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("localserver: data file %s is corrupt (%s); it was left untouched: repair or remove it", path, describeJSONError(err))
	}
	if doc.Version != dataVersion {
		return nil, fmt.Errorf("localserver: data file %s has version %d, want %d; it was left untouched", path, doc.Version, dataVersion)
	}
	return &doc, nil
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s has the wrong type", te.Field)
	}
	return "invalid JSON"
}

// restore rebuilds the state from doc; it runs before the server is shared.
func (s *Server) restore(doc *dataDoc) error {
	now := s.now()
	if doc.Org.AdminKey == "" || doc.Org.ID == "" {
		return errors.New("organisation or admin key missing")
	}
	s.org = org{ID: doc.Org.ID, Name: doc.Org.Name, AdminKeyID: doc.Org.AdminKeyID, adminKey: doc.Org.AdminKey,
		adminHash: hashKey(doc.Org.AdminKey), InsertedAt: doc.Org.InsertedAt}
	maxSeq := doc.Seq
	see := func(n uint64) {
		maxSeq = max(maxSeq, n)
	}
	for _, w := range doc.Workspaces {
		if w.ID == "" {
			return errors.New("workspace without id")
		}
		s.workspaces[w.ID] = &workspace{seq: w.Seq, ID: w.ID, Name: w.Name, Slug: w.Slug, InsertedAt: w.InsertedAt}
		see(w.Seq)
	}
	for _, pd := range doc.Projects {
		secret, err := normalizeSecret(pd.IngestSecret)
		if err != nil || pd.ID == "" {
			return fmt.Errorf("project %q: missing id or invalid ingest secret", pd.ID)
		}
		if _, dup := s.projects[pd.ID]; dup {
			return fmt.Errorf("project %q listed twice", pd.ID)
		}
		p := newProject(pd.Seq, pd.ID, pd.WorkspaceID, pd.Name, secret, pd.InsertedAt, s.cfg.SampleLimit, s.cfg.SampleBytes)
		see(pd.Seq)
		p.SlackWebhookURL = pd.SlackWebhookURL
		p.TraceIDURLTemplate = pd.TraceIDURLTemplate
		p.EnableSignedIngest = pd.EnableSignedIngest
		p.configChangedAt = pd.ConfigChangedAt
		p.lastEvalMs = pd.LastEvalMs
		for _, kd := range pd.Keys {
			h := hashKey(kd.Key)
			if kd.Key == "" || h == s.org.adminHash {
				return fmt.Errorf("project %q: invalid key %q", pd.ID, kd.ID)
			}
			if _, dup := s.keyIndex[h]; dup {
				return fmt.Errorf("project %q: key %q listed twice", pd.ID, kd.ID)
			}
			k := &projectKey{seq: kd.Seq, ID: kd.ID, Name: kd.Name, key: kd.Key, hash: h, InsertedAt: kd.InsertedAt}
			k.lastUsedMs.Store(kd.LastUsedMs)
			p.keys = append(p.keys, k)
			s.keyIndex[h] = keyRef{project: p, key: k}
			see(kd.Seq)
		}
		for _, rd := range pd.Routers {
			p.routers[rd.ID] = &router{seq: rd.Seq, ID: rd.ID, Name: rd.Name, Description: rd.Description, Mode: rd.Mode,
				Enabled: rd.Enabled, Metadata: rd.Metadata, InsertedAt: rd.InsertedAt, UpdatedAt: rd.UpdatedAt, CreatedBy: rd.CreatedBy}
			see(rd.Seq)
		}
		for _, bd := range pd.Breakers {
			sp, aerr := validateSpec(bd.Spec, "")
			if aerr != nil {
				return fmt.Errorf("project %q, breaker %q: %s", pd.ID, bd.ID, aerr.Message)
			}
			if _, dup := p.byName[sp.Name]; dup || p.breakers[bd.ID] != nil || bd.ID == "" {
				return fmt.Errorf("project %q: breaker %q duplicated or without id", pd.ID, bd.ID)
			}
			b := &breaker{seq: bd.Seq, ID: bd.ID, spec: sp, routerIDs: bd.RouterIDs, stateAt: bd.StateAt,
				InsertedAt: bd.InsertedAt, UpdatedAt: bd.UpdatedAt}
			b.eng = engine.New(sp.Config, now.UnixMilli())
			switch st := engine.State(bd.State); st {
			case engine.Open, engine.HalfOpen:
				b.eng.Force(st, bd.AllowRate, bd.StateAt.UnixMilli())
			case engine.Closed, "":
			default:
				return fmt.Errorf("project %q, breaker %q: unknown state %q", pd.ID, bd.ID, bd.State)
			}
			b.syncState()
			p.breakers[b.ID] = b
			p.byName[sp.Name] = b
			see(bd.Seq)
		}
		for _, cd := range pd.Channels {
			p.channels[cd.ID] = &channel{seq: cd.Seq, ID: cd.ID, Name: cd.Name, Channel: cd.Channel, Config: cd.Config,
				Events: cd.Events, Enabled: cd.Enabled, CreatedAt: cd.CreatedAt, UpdatedAt: cd.UpdatedAt}
			see(cd.Seq)
		}
		for _, ed := range pd.Events {
			p.appendEvent(&event{seq: ed.Seq, ID: ed.ID, BreakerID: ed.BreakerID, BreakerName: ed.BreakerName,
				From: ed.From, To: ed.To, AllowRate: ed.AllowRate, Reason: ed.Reason, Timestamp: ed.Timestamp})
			see(ed.Seq)
		}
		p.rebuildIndex()
		s.projects[p.ID] = p
	}
	s.seq.Store(maxSeq)
	s.defaultWS = doc.DefaultWorkspaceID
	s.defaultProj = doc.DefaultProjectID
	s.defaultKey = doc.DefaultProjectKey
	return nil
}

// snapshot captures the whole state as a document.
func (s *Server) snapshot() *dataDoc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	doc := &dataDoc{
		Version: dataVersion,
		Seq:     s.seq.Load(),
		Org: orgDoc{ID: s.org.ID, Name: s.org.Name, AdminKeyID: s.org.AdminKeyID, AdminKey: s.org.adminKey,
			InsertedAt: s.org.InsertedAt},
		DefaultWorkspaceID: s.defaultWS,
		DefaultProjectID:   s.defaultProj,
		DefaultProjectKey:  s.defaultKey,
		Workspaces:         []wsDoc{},
		Projects:           []projectDoc{},
	}
	for _, w := range s.workspaces {
		doc.Workspaces = append(doc.Workspaces, wsDoc{Seq: w.seq, ID: w.ID, Name: w.Name, Slug: w.Slug, InsertedAt: w.InsertedAt})
	}
	sortBySeq(doc.Workspaces, func(w wsDoc) uint64 { return w.Seq })
	for _, p := range s.projects {
		doc.Projects = append(doc.Projects, p.doc())
	}
	sortBySeq(doc.Projects, func(p projectDoc) uint64 { return p.Seq })
	return doc
}

func (p *project) doc() projectDoc {
	p.mu.Lock()
	defer p.mu.Unlock()
	pd := projectDoc{Seq: p.seq, ID: p.ID, WorkspaceID: p.WorkspaceID, Name: p.Name, SlackWebhookURL: p.SlackWebhookURL,
		TraceIDURLTemplate: p.TraceIDURLTemplate, EnableSignedIngest: p.EnableSignedIngest,
		IngestSecret: p.secret.Load().hex, InsertedAt: p.InsertedAt, ConfigChangedAt: p.configChangedAt,
		LastEvalMs: p.lastEvalMs, Keys: []keyDoc{}, Routers: []routerDoc{}, Breakers: []breakerDoc{},
		Channels: []channelDoc{}, Events: []eventDoc{}}
	for _, k := range p.keys {
		pd.Keys = append(pd.Keys, keyDoc{Seq: k.seq, ID: k.ID, Name: k.Name, Key: k.key, InsertedAt: k.InsertedAt, LastUsedMs: k.lastUsedMs.Load()})
	}
	for _, r := range p.sortedRouters() {
		pd.Routers = append(pd.Routers, routerDoc{Seq: r.seq, ID: r.ID, Name: r.Name, Description: r.Description, Mode: r.Mode,
			Enabled: r.Enabled, Metadata: r.Metadata, InsertedAt: r.InsertedAt, UpdatedAt: r.UpdatedAt, CreatedBy: r.CreatedBy})
	}
	for _, b := range p.sortedBreakers() {
		pd.Breakers = append(pd.Breakers, breakerDoc{Seq: b.seq, ID: b.ID, Spec: b.spec, RouterIDs: b.routerIDs,
			State: string(b.state), AllowRate: b.allowRate, StateAt: b.stateAt, InsertedAt: b.InsertedAt, UpdatedAt: b.UpdatedAt})
	}
	for _, c := range p.sortedChannels() {
		pd.Channels = append(pd.Channels, channelDoc{Seq: c.seq, ID: c.ID, Name: c.Name, Channel: c.Channel, Config: c.Config,
			Events: c.Events, Enabled: c.Enabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
	}
	for _, e := range p.events {
		pd.Events = append(pd.Events, eventDoc{Seq: e.seq, ID: e.ID, BreakerID: e.BreakerID, BreakerName: e.BreakerName,
			From: e.From, To: e.To, AllowRate: e.AllowRate, Reason: e.Reason, Timestamp: e.Timestamp})
	}
	return pd
}

func sortBySeq[T any](xs []T, seq func(T) uint64) {
	slices.SortFunc(xs, func(a, b T) int { return cmpSeq(seq(a), seq(b)) })
}

// persist writes the current state to DataFile atomically.
func (s *Server) persist() error {
	doc := s.snapshot()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("localserver: encoding state: %w", err)
	}
	s.persistM.Lock()
	defer s.persistM.Unlock()
	path, err := resolveLinks(s.cfg.DataFile)
	if err != nil {
		return fmt.Errorf("localserver: data file: %w", err)
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("localserver: writing data file: %w", err)
	}
	return nil
}

// maxLinks bounds the symbolic links followed from DataFile.
const maxLinks = 40

// resolveLinks follows path through symbolic links to the file they name
// (which need not exist yet), so that DataFile may be a link: the link's
// target is replaced, and the link stays.
func resolveLinks(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory is written, synced and renamed over path, then the directory is
// synced, so that path always holds either the old or the new content.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// persistLoop writes DataFile PersistDelay after changes, until ctx ends.
func (s *Server) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dirty:
		}
		t := time.NewTimer(s.cfg.PersistDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := s.persist(); err != nil {
			s.log.Error("persisting state failed", "err", err)
		}
	}
}

// durably runs h with its response held back; when h changed the state, the
// state is written to DataFile before the response is sent (SyncWrites). A
// failed write is answered 500: the change is made but not yet durable.
func (s *Server) durably(w http.ResponseWriter, h func(w http.ResponseWriter)) {
	before := s.changes.Load()
	hw := &heldWriter{header: w.Header(), status: http.StatusOK}
	h(hw)
	if s.changes.Load() != before {
		if err := s.persist(); err != nil {
			s.log.Error("persisting state failed", "err", err)
			writeError(w, errf(http.StatusInternalServerError, codeInternal, "the change was made but could not be written to the data file"))
			return
		}
	}
	w.WriteHeader(hw.status)
	_, _ = w.Write(hw.body.Bytes())
}

// heldWriter keeps a response until durably sends it.
type heldWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (hw *heldWriter) Header() http.Header { return hw.header }

func (hw *heldWriter) WriteHeader(code int) {
	if !hw.wrote {
		hw.status, hw.wrote = code, true
	}
}

func (hw *heldWriter) Write(b []byte) (int, error) {
	hw.wrote = true
	return hw.body.Write(b)
}
