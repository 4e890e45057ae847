package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
)

// server is the Tripswitch server of a run: in this process, or a
// tripswitch-local process of its own.
type server struct {
	baseURL, projectID, projectKey, ingestSecret string
	kept                                         func() int // samples the server kept; -1 when it cannot tell
	stop                                         func() error
}

// seed is the run's router and a breaker that never trips: a task that
// never fails never reaches an error rate above 99 %; the largest
// min_count allowed is a second safeguard.
var seed = localserver.Seed{
	Routers: []localserver.SeedRouter{{ID: routerID, Name: "load"}},
	Breakers: []localserver.SeedBreaker{{
		Name: breakerName, Metric: metricName, Kind: "error_rate", Op: "gt", Threshold: 0.99,
		MinCount: 1_000_000, RouterIDs: []string{routerID},
	}},
}

// startInProcess starts a local server in this process.
func startInProcess() (*server, error) {
	srv, err := localserver.New(localserver.Config{SampleLimit: serverSampleLimit})
	if err != nil {
		return nil, err
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	creds := srv.Credentials()
	if err := srv.Seed(creds.ProjectID, seed); err != nil {
		return nil, errors.Join(fmt.Errorf("seed: %w", err), stop())
	}
	return &server{
		baseURL: srv.URL(), projectID: creds.ProjectID, projectKey: creds.ProjectKey, ingestSecret: creds.IngestSecret,
		kept: func() int { return len(srv.Samples(creds.ProjectID)) },
		stop: stop,
	}, nil
}

// startProcess runs the tripswitch-local binary bin on a free loopback
// port, seeded through -config, and reads its credentials from -env-file.
// Its standard error goes to logs.
func startProcess(ctx context.Context, bin string, logs io.Writer) (_ *server, err error) {
	dir, err := os.MkdirTemp("", "tripswitch-load-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	cfg, _ := json.Marshal(seed)
	cfgPath, envPath := filepath.Join(dir, "seed.json"), filepath.Join(dir, "tripswitch.env")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-config", cfgPath, "-env-file", envPath, "-log-level", "warn")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no TRIPSWITCH_* of the caller's environment
	cmd.Stdout = io.Discard
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		defer os.RemoveAll(dir)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.Exited() {
				return fmt.Errorf("%s: %w", bin, err)
			}
			return nil
		case <-time.After(shutdownTimeout):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s did not stop within %v; killed", bin, shutdownTimeout)
		}
	}
	env, err := waitEnvFile(ctx, envPath, exited)
	if err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return nil, err
	}
	s := &server{
		baseURL: env["TRIPSWITCH_BASE_URL"], projectID: env["TRIPSWITCH_PROJECT_ID"],
		projectKey: env["TRIPSWITCH_API_KEY"], ingestSecret: env["TRIPSWITCH_INGEST_SECRET"],
		kept: func() int { return -1 },
		stop: stop,
	}
	if s.baseURL == "" || s.projectID == "" {
		return nil, errors.Join(fmt.Errorf("%s: env file without base URL or project", bin), stop())
	}
	return s, nil
}

// waitEnvFile waits for the server's env file and parses its export lines.
func waitEnvFile(ctx context.Context, path string, exited <-chan error) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			return parseExports(string(b)), nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("server exited before it was ready: %v", err)
		case <-ctx.Done():
			return nil, fmt.Errorf("server not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// parseExports reads lines of the form export NAME=value, where value may
// be single-quoted.
func parseExports(s string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			value = strings.ReplaceAll(value[1:len(value)-1], `'\''`, `'`)
		}
		env[name] = value
	}
	return env
}
