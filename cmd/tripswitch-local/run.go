package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
)

const (
	defaultAddr     = "127.0.0.1:8787"
	shutdownTimeout = 10 * time.Second
	maxConfigFile   = 16 << 20
)

// envDefault returns the first non-empty environment variable of names.
func envDefault(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// projectKeyDefault reads the project key from the environment.
// TRIPSWITCH_API_KEY counts only when it holds a project key: the same name
// holds the admin key in shells set up for admin work.
func projectKeyDefault() string {
	if v := os.Getenv("TRIPSWITCH_LOCAL_PROJECT_KEY"); v != "" {
		return v
	}
	if v := os.Getenv("TRIPSWITCH_API_KEY"); strings.HasPrefix(v, "eb_pk_") {
		return v
	}
	return ""
}

type options struct {
	addr, config, data, envFile, logLevel                      string
	printEnv, syncWrites                                       bool
	adminKey, workspaceID, projectID, projectKey, ingestSecret string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("tripswitch-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := envDefault("TRIPSWITCH_LOCAL_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	level := envDefault("TRIPSWITCH_LOCAL_LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	fs.StringVar(&o.addr, "addr", addr, "listen address")
	fs.StringVar(&o.config, "config", envDefault("TRIPSWITCH_LOCAL_CONFIG"), "JSON file of routers and breakers to create in the project")
	fs.StringVar(&o.data, "data", envDefault("TRIPSWITCH_LOCAL_DATA"), "JSON file that keeps all state across restarts (default: memory only)")
	fs.StringVar(&o.envFile, "env-file", envDefault("TRIPSWITCH_LOCAL_ENV_FILE"), "write the export lines of -print-env to this file (mode 0600, replaced atomically) once the server accepts connections; a stale file is removed at start")
	fs.BoolVar(&o.printEnv, "print-env", false, "print only shell export lines on standard output")
	fs.BoolVar(&o.syncWrites, "sync-writes", false, "with -data, write every management API change before answering it (default: within 1s)")
	// Credentials read from the environment are applied after parsing, so
	// that -h never prints them as defaults.
	fs.StringVar(&o.adminKey, "admin-key", "", "fixed admin key (eb_admin_…)")
	fs.StringVar(&o.workspaceID, "workspace-id", envDefault("TRIPSWITCH_LOCAL_WORKSPACE_ID", "TRIPSWITCH_WORKSPACE_ID"), "fixed workspace ID")
	fs.StringVar(&o.projectID, "project-id", envDefault("TRIPSWITCH_LOCAL_PROJECT_ID", "TRIPSWITCH_PROJECT_ID"), "fixed project ID")
	fs.StringVar(&o.projectKey, "project-key", "", "fixed project key (eb_pk_…)")
	fs.StringVar(&o.ingestSecret, "ingest-secret", "", "fixed ingest secret (64 hex characters)")
	fs.StringVar(&o.logLevel, "log-level", level, "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), usageTail)
	}
	syncDefault := envDefault("TRIPSWITCH_LOCAL_SYNC_WRITES")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if !isFlagSet(fs, "admin-key") {
		o.adminKey = envDefault("TRIPSWITCH_LOCAL_ADMIN_KEY", "TRIPSWITCH_ADMIN_KEY")
	}
	if !isFlagSet(fs, "project-key") {
		o.projectKey = projectKeyDefault()
	}
	if !isFlagSet(fs, "ingest-secret") {
		o.ingestSecret = envDefault("TRIPSWITCH_LOCAL_INGEST_SECRET", "TRIPSWITCH_INGEST_SECRET")
	}
	if !isFlagSet(fs, "sync-writes") && syncDefault != "" {
		v, err := strconv.ParseBool(syncDefault)
		if err != nil {
			return o, fmt.Errorf("TRIPSWITCH_LOCAL_SYNC_WRITES: %q is not true or false", syncDefault)
		}
		o.syncWrites = v
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (all settings are flags; see -h)", fs.Arg(0))
	}
	return o, nil
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// run runs the server until ctx ends, then shuts it down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %q is not one of debug, info, warn, error", o.logLevel)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var seed *localserver.Seed
	if o.config != "" {
		if seed, err = readSeed(o.config); err != nil {
			return err
		}
	}
	if o.envFile != "" {
		// A file left by an earlier run must not be mistaken for this one's.
		if err := os.Remove(o.envFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("-env-file: %w", err)
		}
	}
	srv, err := localserver.New(localserver.Config{
		AdminKey:     o.adminKey,
		WorkspaceID:  o.workspaceID,
		ProjectID:    o.projectID,
		ProjectKey:   o.projectKey,
		IngestSecret: o.ingestSecret,
		DataFile:     o.data,
		SyncWrites:   o.syncWrites,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	if seed != nil {
		if err := srv.Seed(srv.Credentials().ProjectID, *seed); err != nil {
			return fmt.Errorf("-config %s: %w", o.config, err)
		}
	}
	if err := srv.Start(o.addr); err != nil {
		return err
	}
	creds := srv.Credentials()
	if o.envFile != "" {
		if err := writeEnvFile(o.envFile, creds); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			return errors.Join(fmt.Errorf("-env-file: %w", err), srv.Shutdown(sctx))
		}
	}
	if o.printEnv {
		printEnv(stdout, creds)
	} else {
		printBanner(stdout, creds, o.data)
	}

	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// readSeed reads a -config file. Unknown fields are errors here: in a file
// written by hand they are typos.
func readSeed(path string) (*localserver.Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("-config %s: larger than %d MiB", path, maxConfigFile>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var seed localserver.Seed
	if err := dec.Decode(&seed); err != nil {
		return nil, fmt.Errorf("-config %s: %w", path, err)
	}
	return &seed, nil
}

func envLines(c localserver.Credentials) [][2]string {
	return [][2]string{
		{"TRIPSWITCH_BASE_URL", c.BaseURL},
		{"TRIPSWITCH_PROJECT_ID", c.ProjectID},
		{"TRIPSWITCH_API_KEY", c.ProjectKey},
		{"TRIPSWITCH_INGEST_SECRET", c.IngestSecret},
		{"TRIPSWITCH_ADMIN_KEY", c.AdminKey},
		{"TRIPSWITCH_WORKSPACE_ID", c.WorkspaceID},
	}
}

func exports(c localserver.Credentials) string {
	var b strings.Builder
	for _, kv := range envLines(c) {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return b.String()
}

func printEnv(w io.Writer, c localserver.Credentials) {
	_, _ = io.WriteString(w, exports(c))
}

// writeEnvFile writes the export lines to path atomically: a temporary file
// in the same directory, with mode 0600, is renamed over path, so that a
// script that waits for path never reads a partial file.
func writeEnvFile(path string, c localserver.Credentials) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = io.WriteString(f, exports(c)); err != nil {
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
	return os.Rename(f.Name(), path)
}

func printBanner(w io.Writer, c localserver.Credentials, dataFile string) {
	var b strings.Builder
	fmt.Fprintf(&b, "Tripswitch local server listening on %s\n\n", c.BaseURL)
	fmt.Fprintf(&b, "  workspace      %s\n", c.WorkspaceID)
	fmt.Fprintf(&b, "  project        %s\n", c.ProjectID)
	fmt.Fprintf(&b, "  project key    %s\n", c.ProjectKey)
	fmt.Fprintf(&b, "  ingest secret  %s\n", c.IngestSecret)
	fmt.Fprintf(&b, "  admin key      %s\n", c.AdminKey)
	fmt.Fprintf(&b, "  console        %s/ (enter the admin key on the page)\n", c.BaseURL)
	if dataFile != "" {
		fmt.Fprintf(&b, "  data file      %s\n", dataFile)
	} else {
		fmt.Fprintf(&b, "  data file      none (state is lost at exit; use -data to keep it)\n")
	}
	b.WriteString("\nEnvironment for the SDK and tools (also printed alone by -print-env):\n\n")
	for _, kv := range envLines(c) {
		fmt.Fprintf(&b, "  export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	_, _ = io.WriteString(w, b.String())
}

// shellQuote returns v as a POSIX shell word.
func shellQuote(v string) string {
	safe := v != ""
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.:/@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
