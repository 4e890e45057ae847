package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("TRIPSWITCH_LOCAL_RUN_MAIN") == "1" {
		// The test binary stands in for the command (see startProcess).
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("TRIPSWITCH_LOCAL_ARGS"))...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// startProcess runs the command as a separate process and returns it with
// the export lines it printed.
func startProcess(t *testing.T, args ...string) (*exec.Cmd, map[string]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TRIPSWITCH_LOCAL_RUN_MAIN=1", "TRIPSWITCH_LOCAL_ARGS="+strings.Join(args, " "))
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	env := map[string]string{}
	sc := bufio.NewScanner(out)
	for len(env) < 6 && sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		env[k] = v
	}
	if len(env) < 6 {
		t.Fatalf("process printed %v", env)
	}
	return cmd, env
}

// Credentials printed by a server that is killed at once (no shutdown) are
// the ones it restarts with.
func TestCredentialsSurviveKillRightAfterStart(t *testing.T) {
	clearEnv(t)
	data := filepath.Join(t.TempDir(), "state.json")
	args := []string{"-addr", "127.0.0.1:0", "-print-env", "-data", data}
	cmd, env := startProcess(t, args...)
	must(t, cmd.Process.Kill()) // SIGKILL: nothing runs after the print
	_ = cmd.Wait()
	_, env2 := startProcess(t, args...)
	delete(env, "TRIPSWITCH_BASE_URL")
	delete(env2, "TRIPSWITCH_BASE_URL")
	if strings.Join(mapLines(env), ",") != strings.Join(mapLines(env2), ",") {
		t.Fatalf("credentials changed after kill -9:\n%v\n%v", env, env2)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var envNames = []string{
	"TRIPSWITCH_LOCAL_ADDR", "TRIPSWITCH_LOCAL_CONFIG", "TRIPSWITCH_LOCAL_DATA", "TRIPSWITCH_LOCAL_LOG_LEVEL",
	"TRIPSWITCH_LOCAL_ADMIN_KEY", "TRIPSWITCH_ADMIN_KEY", "TRIPSWITCH_LOCAL_WORKSPACE_ID",
	"TRIPSWITCH_LOCAL_PROJECT_ID", "TRIPSWITCH_PROJECT_ID", "TRIPSWITCH_LOCAL_PROJECT_KEY", "TRIPSWITCH_API_KEY",
	"TRIPSWITCH_LOCAL_INGEST_SECRET", "TRIPSWITCH_INGEST_SECRET", "TRIPSWITCH_WORKSPACE_ID", "TRIPSWITCH_BASE_URL",
	"TRIPSWITCH_LOCAL_ENV_FILE", "TRIPSWITCH_LOCAL_SYNC_WRITES",
}

func clearEnv(t *testing.T) {
	for _, n := range envNames {
		t.Setenv(n, "")
	}
}

// instance is a run() in the background.
type instance struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

func launch(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- run(ctx, args, in.stdout, in.stderr) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// env waits for the export lines and parses them.
func (in *instance) env(t *testing.T) map[string]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := in.stdout.String()
		if strings.Count(out, "export ") >= 6 {
			m := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export ")
				if !ok {
					continue
				}
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			return m
		}
		select {
		case err := <-in.done:
			t.Fatalf("run ended early: %v; stderr: %s", err, in.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no export lines; stdout %q stderr %q", out, in.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (in *instance) stop(t *testing.T) error {
	t.Helper()
	in.cancel()
	select {
	case err, ok := <-in.done:
		if ok {
			close(in.done)
		}
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancellation")
		return nil
	}
}

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const seedFile = `{
  "routers": [{"id": "rtr_checkout", "name": "checkout"}],
  "breakers": [{"name": "checkout-errors", "metric": "requests", "kind": "error_rate",
                "op": "gt", "threshold": 0.5, "min_count": 10, "router_ids": ["rtr_checkout"]}]
}`

func TestRunPrintEnvServesAndPersists(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "state.json")
	config := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(config, []byte(seedFile), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-addr", "127.0.0.1:0", "-print-env", "-data", data, "-config", config}

	in := launch(t, args...)
	env := in.env(t)
	for _, k := range []string{"TRIPSWITCH_BASE_URL", "TRIPSWITCH_PROJECT_ID", "TRIPSWITCH_API_KEY", "TRIPSWITCH_INGEST_SECRET", "TRIPSWITCH_ADMIN_KEY"} {
		if env[k] == "" {
			t.Fatalf("%s missing from %v", k, env)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(in.stdout.String()), "\n") {
		if !strings.HasPrefix(line, "export TRIPSWITCH_") {
			t.Fatalf("stdout has a line that is not an export: %q", line)
		}
	}
	if strings.Contains(in.stderr.String(), env["TRIPSWITCH_API_KEY"]) || strings.Contains(in.stderr.String(), env["TRIPSWITCH_INGEST_SECRET"]) {
		t.Fatal("logs contain a credential")
	}
	base, pid := env["TRIPSWITCH_BASE_URL"], env["TRIPSWITCH_PROJECT_ID"]
	if code, body := get(t, base+"/v1/projects/"+pid+"/status", env["TRIPSWITCH_API_KEY"]); code != 200 || !strings.Contains(body, `"closed_count":1`) {
		t.Fatalf("status %d %s", code, body)
	}
	if err := in.stop(t); err != nil {
		t.Fatalf("run returned %v after cancellation", err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("no data file after shutdown: %v", err)
	}

	// A restart with the same files keeps the credentials and does not
	// duplicate the seeded objects.
	in2 := launch(t, args...)
	env2 := in2.env(t)
	base2 := env2["TRIPSWITCH_BASE_URL"]
	delete(env, "TRIPSWITCH_BASE_URL")
	delete(env2, "TRIPSWITCH_BASE_URL")
	if strings.Join(mapLines(env), ",") != strings.Join(mapLines(env2), ",") {
		t.Fatalf("credentials changed across a restart:\n%v\n%v", env, env2)
	}
	code, body := get(t, base2+"/v1/projects/"+pid+"/breakers", env2["TRIPSWITCH_ADMIN_KEY"])
	if code != 200 || !strings.Contains(body, `"count":1`) {
		t.Fatalf("breakers after restart: %d %s", code, body)
	}
}

func mapLines(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func TestRunBannerAndFixedCredentials(t *testing.T) {
	clearEnv(t)
	secret := strings.Repeat("0f", 32)
	t.Setenv("TRIPSWITCH_ADMIN_KEY", "eb_admin_fromenv")
	in := launch(t, "-addr", "127.0.0.1:0", "-project-id", "proj_demo", "-project-key", "eb_pk_demo", "-ingest-secret", "ik_"+secret)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(in.stdout.String(), "export TRIPSWITCH_WORKSPACE_ID") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %q", in.stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := in.stdout.String()
	for _, want := range []string{"listening on http://127.0.0.1:", "proj_demo", "eb_pk_demo", secret, "eb_admin_fromenv", "export TRIPSWITCH_API_KEY=eb_pk_demo", "-data", "console        http://127.0.0.1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if err := in.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestRunErrors(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte("{oops"), 0o600)
	typo := filepath.Join(dir, "typo.json")
	os.WriteFile(typo, []byte(`{"breakerz": []}`), 0o600)
	invalid := filepath.Join(dir, "invalid.json")
	os.WriteFile(invalid, []byte(`{"breakers": [{"name": "b", "metric": "m", "kind": "median", "op": "gt"}]}`), 0o600)
	badSecret := "ik_" + strings.Repeat("z", 64)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-ingest-secret", badSecret}, "ingest secret"},
		{[]string{"-admin-key", "wrong"}, "AdminKey"},
		{[]string{"-data", corrupt}, "corrupt"},
		{[]string{"-config", typo}, "unknown field"},
		{[]string{"-config", invalid}, "breakers[0].kind"},
		{[]string{"-config", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"-addr", "256.0.0.1:1"}, "listen"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Fatalf("err %v (stderr %q), want %q", err, stderr.String(), tc.want)
			}
			if strings.Contains(err.Error(), strings.Repeat("z", 64)) {
				t.Fatal("error contains the secret")
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q on failure", stdout.String())
			}
		})
	}
	b, _ := os.ReadFile(corrupt)
	if string(b) != "{oops" {
		t.Fatal("corrupt data file was overwritten")
	}
}

// -h documents every flag, every environment variable read, the -config
// format and the limits with their defaults.
func TestHelp(t *testing.T) {
	clearEnv(t)
	secret := strings.Repeat("5e", 32)
	t.Setenv("TRIPSWITCH_ADMIN_KEY", "eb_admin_secretfromenv")
	t.Setenv("TRIPSWITCH_API_KEY", "eb_pk_secretfromenv")
	t.Setenv("TRIPSWITCH_INGEST_SECRET", secret)
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	out := stderr.String()
	want := append([]string{"-print-env", "-env-file", "-sync-writes", `"routers"`, `"breakers"`, "router_ids",
		"within 30s", "503", "Retry-After", "5 minutes", "64 MiB", "32 MiB", "100,000", "at most the last second"}, envNames...)
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("-h does not mention %q", w)
		}
	}
	for _, secret := range []string{"secretfromenv", secret} {
		if strings.Contains(out, secret) {
			t.Error("-h prints a credential from the environment")
		}
	}
}

// readEnvFile waits for path and parses its export lines.
func readEnvFile(t *testing.T, in *instance, path string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			m := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				kv, ok := strings.CutPrefix(line, "export ")
				if !ok {
					t.Fatalf("env file line %q", line)
				}
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			return m
		}
		select {
		case err := <-in.done:
			t.Fatalf("run ended early: %v; stderr: %s", err, in.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no env file; stderr %q", in.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Exporting what -env-file wrote and restarting without -data keeps every ID
// and credential.
func TestEnvFileRoundTrip(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "tripswitch.env")
	in := launch(t, "-addr", "127.0.0.1:0", "-env-file", path)
	env := readEnvFile(t, in, path)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if code, _ := get(t, env["TRIPSWITCH_BASE_URL"]+"/v1/projects/"+env["TRIPSWITCH_PROJECT_ID"]+"/status", env["TRIPSWITCH_API_KEY"]); code != 200 {
		t.Fatalf("status %d with the env file's credentials", code)
	}
	must(t, in.stop(t))
	for k, v := range env {
		t.Setenv(k, v)
	}
	in2 := launch(t, "-addr", "127.0.0.1:0", "-env-file", path)
	env2 := readEnvFile(t, in2, path)
	delete(env, "TRIPSWITCH_BASE_URL")
	delete(env2, "TRIPSWITCH_BASE_URL")
	if strings.Join(mapLines(env), ",") != strings.Join(mapLines(env2), ",") {
		t.Fatalf("restart with the exported environment changed it:\n%v\n%v", env, env2)
	}
}

// The env file of an earlier run is replaced, never left for a script to
// source.
func TestEnvFileReplacesAStaleOne(t *testing.T) {
	clearEnv(t)
	path := filepath.Join(t.TempDir(), "tripswitch.env")
	must(t, os.WriteFile(path, []byte("export TRIPSWITCH_PROJECT_ID=proj_stale\n"), 0o600))
	in := launch(t, "-addr", "127.0.0.1:0", "-print-env", "-env-file", path)
	printed := in.env(t)
	written := readEnvFile(t, in, path)
	if strings.Join(mapLines(printed), ",") != strings.Join(mapLines(written), ",") {
		t.Fatalf("env file %v differs from the printed environment %v", written, printed)
	}
}

// A shell set up for admin work holds the admin key in TRIPSWITCH_API_KEY;
// the server starts anyway and keeps the admin key out of the project key.
func TestAdminKeyInAPIKeyVariableIsIgnored(t *testing.T) {
	clearEnv(t)
	t.Setenv("TRIPSWITCH_API_KEY", "eb_admin_forworkspaces")
	in := launch(t, "-addr", "127.0.0.1:0", "-print-env")
	env := in.env(t)
	if env["TRIPSWITCH_API_KEY"] == "eb_admin_forworkspaces" || !strings.HasPrefix(env["TRIPSWITCH_API_KEY"], "eb_pk_") {
		t.Fatalf("project key %q", env["TRIPSWITCH_API_KEY"])
	}
	// A project key there is still honoured.
	must(t, in.stop(t))
	t.Setenv("TRIPSWITCH_API_KEY", "eb_pk_fromshell")
	in2 := launch(t, "-addr", "127.0.0.1:0", "-print-env")
	if got := in2.env(t)["TRIPSWITCH_API_KEY"]; got != "eb_pk_fromshell" {
		t.Fatalf("project key %q, want eb_pk_fromshell", got)
	}
}

func TestSyncWritesFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("TRIPSWITCH_LOCAL_SYNC_WRITES", "maybe")
	if err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "TRIPSWITCH_LOCAL_SYNC_WRITES") {
		t.Fatalf("err %v", err)
	}
	t.Setenv("TRIPSWITCH_LOCAL_SYNC_WRITES", "true")
	data := filepath.Join(t.TempDir(), "state.json")
	in := launch(t, "-addr", "127.0.0.1:0", "-print-env", "-data", data)
	env := in.env(t)
	req, _ := http.NewRequest("POST", env["TRIPSWITCH_BASE_URL"]+"/v1/workspaces", strings.NewReader(`{"name":"synced"}`))
	req.Header.Set("Authorization", "Bearer "+env["TRIPSWITCH_ADMIN_KEY"])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	if b, _ := os.ReadFile(data); !strings.Contains(string(b), "synced") {
		t.Fatal("acknowledged change not yet in the data file")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8787": "http://127.0.0.1:8787",
		"":                      "''",
		"it's":                  `'it'\''s'`,
		"a b":                   "'a b'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
