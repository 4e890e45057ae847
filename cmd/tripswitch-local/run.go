package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
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

type options struct {
	addr, config, data, logLevel                               string
	printEnv                                                   bool
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
	fs.BoolVar(&o.printEnv, "print-env", false, "print only shell export lines on standard output")
	fs.StringVar(&o.adminKey, "admin-key", envDefault("TRIPSWITCH_LOCAL_ADMIN_KEY", "TRIPSWITCH_ADMIN_KEY"), "fixed admin key (eb_admin_…)")
	fs.StringVar(&o.workspaceID, "workspace-id", envDefault("TRIPSWITCH_LOCAL_WORKSPACE_ID"), "fixed workspace ID")
	fs.StringVar(&o.projectID, "project-id", envDefault("TRIPSWITCH_LOCAL_PROJECT_ID", "TRIPSWITCH_PROJECT_ID"), "fixed project ID")
	fs.StringVar(&o.projectKey, "project-key", envDefault("TRIPSWITCH_LOCAL_PROJECT_KEY", "TRIPSWITCH_API_KEY"), "fixed project key (eb_pk_…)")
	fs.StringVar(&o.ingestSecret, "ingest-secret", envDefault("TRIPSWITCH_LOCAL_INGEST_SECRET", "TRIPSWITCH_INGEST_SECRET"), "fixed ingest secret (64 hex characters)")
	fs.StringVar(&o.logLevel, "log-level", level, "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: tripswitch-local [flags]\n\nRuns a local Tripswitch server. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (all settings are flags; see -h)", fs.Arg(0))
	}
	return o, nil
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
	srv, err := localserver.New(localserver.Config{
		AdminKey:     o.adminKey,
		WorkspaceID:  o.workspaceID,
		ProjectID:    o.projectID,
		ProjectKey:   o.projectKey,
		IngestSecret: o.ingestSecret,
		DataFile:     o.data,
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

func printEnv(w io.Writer, c localserver.Credentials) {
	var b strings.Builder
	for _, kv := range envLines(c) {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	_, _ = io.WriteString(w, b.String())
}

func printBanner(w io.Writer, c localserver.Credentials, dataFile string) {
	var b strings.Builder
	fmt.Fprintf(&b, "Tripswitch local server listening on %s\n\n", c.BaseURL)
	fmt.Fprintf(&b, "  workspace      %s\n", c.WorkspaceID)
	fmt.Fprintf(&b, "  project        %s\n", c.ProjectID)
	fmt.Fprintf(&b, "  project key    %s\n", c.ProjectKey)
	fmt.Fprintf(&b, "  ingest secret  %s\n", c.IngestSecret)
	fmt.Fprintf(&b, "  admin key      %s\n", c.AdminKey)
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
