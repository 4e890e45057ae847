package localserver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
)

func startWithFile(t *testing.T, cfg localserver.Config) *localserver.Server {
	t.Helper()
	srv, err := localserver.New(cfg)
	must(t, err)
	must(t, srv.Start("127.0.0.1:0"))
	return srv
}

func shutdown(t *testing.T, srv *localserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	must(t, srv.Shutdown(ctx))
}

func TestPersistenceRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	srv := startWithFile(t, localserver.Config{DataFile: file})
	c := srv.Credentials()
	must(t, srv.Seed(c.ProjectID, errorRateSeed))
	must(t, srv.ForceState(c.ProjectID, "errors", "half_open", 0.3))
	wantStatus(t, call(t, "PATCH", projectURL(srv, "/breakers/errors/metadata"), c.AdminKey, map[string]string{"team": "core"}), 200)
	wantStatus(t, call(t, "POST", projectURL(srv, "/notification-channels"), c.AdminKey, map[string]any{"name": "ops", "channel": "webhook", "config": map[string]string{"url": "https://x"}}), 201)
	rot := call(t, "POST", projectURL(srv, "/ingest_secret/rotate"), c.AdminKey, nil)
	wantStatus(t, rot, 200)
	otherKey := newProjectWithKey(t, srv)
	wsBefore := call(t, "GET", c.BaseURL+"/v1/workspaces", c.AdminKey, nil).Body
	breakersBefore := call(t, "GET", projectURL(srv, "/breakers"), c.AdminKey, nil).json(t)
	eventsBefore := call(t, "GET", projectURL(srv, "/events"), c.AdminKey, nil).Body
	c = srv.Credentials()
	shutdown(t, srv)

	info, err := os.Stat(file)
	must(t, err)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("data file mode %v, want 0600", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d files, want only the data file (no temporary files)", len(entries))
	}

	srv2 := startWithFile(t, localserver.Config{DataFile: file})
	defer shutdown(t, srv2)
	c2 := srv2.Credentials()
	c.BaseURL, c2.BaseURL = "", ""
	if c != c2 {
		t.Fatalf("credentials changed across a restart:\n%v\n%v", c, c2)
	}
	if got := call(t, "GET", c2ProjectURL(srv2, "/breakers"), c2.AdminKey, nil).json(t); stripTimes(got) != stripTimes(breakersBefore) {
		t.Fatalf("breakers differ:\n%v\n%v", got, breakersBefore)
	}
	if got := call(t, "GET", srv2.URL()+"/v1/workspaces", c2.AdminKey, nil).Body; string(got) != string(wsBefore) {
		t.Fatalf("workspaces differ:\n%s\n%s", got, wsBefore)
	}
	if got := call(t, "GET", c2ProjectURL(srv2, "/events"), c2.AdminKey, nil).Body; string(got) != string(eventsBefore) {
		t.Fatalf("events differ:\n%s\n%s", got, eventsBefore)
	}
	if s, rate, err := srv2.BreakerState(c2.ProjectID, "errors"); err != nil || s != "half_open" || rate != 0.3 {
		t.Fatalf("state after restart %s %v %v", s, rate, err)
	}
	st := openStream(t, srv2.URL(), c2.ProjectID, c2.ProjectKey)
	if e := st.next(); e["state"] != "half_open" || e["allow_rate"] != 0.3 {
		t.Fatalf("snapshot after restart %v", e)
	}
	if n := len(call(t, "GET", c2ProjectURL(srv2, "/notification-channels"), c2.AdminKey, nil).json(t)["items"].([]any)); n != 1 {
		t.Fatalf("%d channels after restart", n)
	}
	// The other project's key still works for its own project only.
	wantStatus(t, call(t, "GET", c2ProjectURL(srv2, "/status"), otherKey, nil), 403)
	// Ingest with the rotated secret works; routing survived.
	wantStatus(t, ingest(t, srv2, time.Now(), failing(2, "rtr_a", "req", time.Now())...), 202)
	if _, n, _ := srv2.Aggregate(c2.ProjectID, "errors"); n != 2 {
		t.Fatalf("aggregate count %d after restart, want 2", n)
	}
}

func c2ProjectURL(srv *localserver.Server, suffix string) string { return projectURL(srv, suffix) }

// stripTimes removes the fields that legitimately differ between two reads.
func stripTimes(m map[string]any) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(jsonString(m), "\n", " ")), " ")
}

func TestPersistenceWritesAfterChanges(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	srv := startWithFile(t, localserver.Config{DataFile: file, PersistDelay: 10 * time.Millisecond})
	defer shutdown(t, srv)
	c := srv.Credentials()
	waitFor(t, "the initial write", func() bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), c.ProjectID)
	})
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/workspaces", c.AdminKey, map[string]string{"name": "written-soon"}), 201)
	waitFor(t, "the change to be written", func() bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), "written-soon")
	})
}

func TestFixedCredentialsOverrideLoadedOnes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	srv := startWithFile(t, localserver.Config{DataFile: file})
	first := srv.Credentials()
	shutdown(t, srv)

	fixed := localserver.Config{DataFile: file, AdminKey: "eb_admin_fixed", ProjectKey: "eb_pk_fixed",
		IngestSecret: "ik_" + strings.Repeat("ab", 32)}
	srv2 := startWithFile(t, fixed)
	defer shutdown(t, srv2)
	c := srv2.Credentials()
	if c.AdminKey != "eb_admin_fixed" || c.ProjectKey != "eb_pk_fixed" || c.IngestSecret != strings.Repeat("ab", 32) || c.ProjectID != first.ProjectID {
		t.Fatalf("credentials %v", c)
	}
	wantStatus(t, call(t, "GET", srv2.URL()+"/v1/workspaces", first.AdminKey, nil), 401)
	// The first project key was kept; the fixed one was added.
	wantStatus(t, call(t, "GET", projectURL(srv2, "/status"), first.ProjectKey, nil), 200)
	wantStatus(t, call(t, "GET", projectURL(srv2, "/status"), "eb_pk_fixed", nil), 200)
}

func TestCorruptDataFileIsAnErrorAndIsKept(t *testing.T) {
	for _, content := range []string{"{not json", `{"version": 99}`, `{"version":1,"org":{"id":"org_1","admin_key":"eb_admin_x"},"projects":[{"id":"p","ingest_secret":"short"}]}`} {
		file := filepath.Join(t.TempDir(), "state.json")
		must(t, os.WriteFile(file, []byte(content), 0o600))
		_, err := localserver.New(localserver.Config{DataFile: file})
		if err == nil {
			t.Fatalf("New accepted a corrupt file %q", content)
		}
		if !strings.Contains(err.Error(), file) || strings.Contains(err.Error(), "eb_admin_x") {
			t.Fatalf("error %q should name the file and no secret", err)
		}
		b, _ := os.ReadFile(file)
		if string(b) != content {
			t.Fatal("corrupt file was modified")
		}
		entries, _ := os.ReadDir(filepath.Dir(file))
		if len(entries) != 1 {
			t.Fatalf("%d files in the directory", len(entries))
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []localserver.Config{
		{AdminKey: "nope"},
		{ProjectKey: "eb_admin_x"},
		{IngestSecret: "abc"},
		{IngestSecret: strings.Repeat("g", 64)},
		{ProjectID: "bad id"},
		{WorkspaceID: strings.Repeat("w", 65)},
		{AdminKey: "eb_admin_same", ProjectKey: "eb_pk_x", RateLimit: -1},
	} {
		if _, err := localserver.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		} else if cfg.IngestSecret != "" && strings.Contains(err.Error(), cfg.IngestSecret) {
			t.Errorf("error %q contains the secret", err)
		}
	}
}

// The credentials that Start makes available are on disk when it returns,
// so that a server killed at once restarts with the same ones.
func TestStartWritesCredentialsBeforeReturning(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	srv := startWithFile(t, localserver.Config{DataFile: file, PersistDelay: time.Hour})
	defer shutdown(t, srv)
	c := srv.Credentials()
	b, err := os.ReadFile(file)
	must(t, err)
	for _, want := range []string{c.AdminKey, c.ProjectKey, c.IngestSecret, c.ProjectID, c.WorkspaceID} {
		if !strings.Contains(string(b), want) {
			t.Fatal("data file does not hold every credential when Start returns")
		}
	}
}

func TestSyncWritesPersistBeforeAnswering(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	srv := startWithFile(t, localserver.Config{DataFile: file, PersistDelay: time.Hour, SyncWrites: true})
	defer shutdown(t, srv)
	c := srv.Credentials()
	r := call(t, "POST", c.BaseURL+"/v1/workspaces", c.AdminKey, map[string]string{"name": "durable"})
	wantStatus(t, r, 201)
	if r.json(t)["name"] != "durable" {
		t.Fatalf("response %s", r.Body)
	}
	b, err := os.ReadFile(file)
	must(t, err)
	if !strings.Contains(string(b), "durable") {
		t.Fatal("acknowledged change is not in the data file")
	}
	// Errors pass through unchanged.
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/workspaces", c.AdminKey, map[string]string{}), 422)
}

func TestDataFileSymlinkIsWrittenThrough(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "real"), 0o700))
	target := filepath.Join(dir, "real", "state.json")
	link := filepath.Join(dir, "state.json")
	must(t, os.Symlink(filepath.Join("real", "state.json"), link)) // relative, and dangling at first
	srv := startWithFile(t, localserver.Config{DataFile: link})
	c := srv.Credentials()
	wantStatus(t, call(t, "POST", c.BaseURL+"/v1/workspaces", c.AdminKey, map[string]string{"name": "through-link"}), 201)
	shutdown(t, srv)
	fi, err := os.Lstat(link)
	must(t, err)
	if fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the data file link was replaced by a regular file")
	}
	b, err := os.ReadFile(target)
	must(t, err)
	if !strings.Contains(string(b), "through-link") {
		t.Fatal("the link's target was not updated")
	}
	srv2 := startWithFile(t, localserver.Config{DataFile: link})
	defer shutdown(t, srv2)
	if srv2.Credentials().AdminKey != c.AdminKey {
		t.Fatal("restart through the link lost the state")
	}
}
