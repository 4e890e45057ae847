package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/localserver"
	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

// config is everything run needs; parseConfig builds it from flags and the
// environment.
type config struct {
	Duration      time.Duration // length of the whole schedule
	RPS           int           // checkout requests per second
	Seed          uint64        // seed of the simulated dependency
	MetricsAddr   string        // Prometheus endpoint; "" disables it
	CheckoutAddr  string        // checkout service listen address
	FlushInterval time.Duration // flush interval of the Tripswitch client
	Color         bool          // colour the progress lines
	OTLP          bool          // export traces and metrics over OTLP/HTTP
	Remote        *remote       // nil: start the local server in-process

	// MetricsAddrGiven and CheckoutAddrGiven are set when the address
	// comes from a flag rather than the default: a busy default is
	// replaced by a free port, a busy address the user chose is an error.
	MetricsAddrGiven, CheckoutAddrGiven bool

	// ready, when set, is called once every endpoint listens, before the
	// load starts.
	ready func(readyInfo)
	// warn receives warnings that do not fail the run (OTLP export
	// failures); nil discards them.
	warn io.Writer
}

// usageError is an error in what the user asked for (a flag, a variable,
// an address that cannot be used): the process exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// remote names an existing Tripswitch server and project.
type remote struct {
	BaseURL      string
	ProjectID    string
	ProjectKey   string
	IngestSecret string
	AdminKey     string // optional: create or update the router and breakers
	InsecureHTTP bool
}

// readyInfo tells a caller of run where things listen.
type readyInfo struct {
	MetricsURL  string              // "" when the endpoint is disabled
	CheckoutURL string              // the checkout endpoint
	Server      *localserver.Server // nil with a remote server
	ProjectID   string
	RouterID    string
}

const (
	minDuration = 10 * time.Second
	maxRPS      = 1000
)

func defaultConfig() config {
	return config{
		Duration:      60 * time.Second,
		RPS:           50,
		Seed:          1,
		MetricsAddr:   "127.0.0.1:9464",
		CheckoutAddr:  "127.0.0.1:0",
		FlushInterval: 250 * time.Millisecond,
	}
}

// parseConfig reads flags from args and settings from getenv.
func parseConfig(args []string, getenv func(string) string, errOut io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("otel-demo", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the whole schedule (healthy, latency spike, outage, recovery); breaker windows scale with it")
	fs.IntVar(&cfg.RPS, "rps", cfg.RPS, "checkout requests per second")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the simulated payments dependency")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "address of the Prometheus /metrics endpoint; empty disables it")
	fs.StringVar(&cfg.CheckoutAddr, "checkout-addr", cfg.CheckoutAddr, "listen address of the checkout service")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", cfg.FlushInterval, "how long a sample may wait before the Tripswitch client sends it")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "metrics-addr":
			cfg.MetricsAddrGiven = true
		case "checkout-addr":
			cfg.CheckoutAddrGiven = true
		}
	})
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Duration < minDuration {
		return config{}, fmt.Errorf("-duration %v: must be at least %v", cfg.Duration, minDuration)
	}
	if cfg.RPS < 1 || cfg.RPS > maxRPS {
		return config{}, fmt.Errorf("-rps %d: must be between 1 and %d", cfg.RPS, maxRPS)
	}
	if cfg.FlushInterval <= 0 {
		return config{}, fmt.Errorf("-flush-interval %v: must be positive", cfg.FlushInterval)
	}
	if cfg.CheckoutAddr == "" {
		return config{}, errors.New("-checkout-addr: must not be empty")
	}
	r, err := remoteFromEnv(getenv)
	if err != nil {
		return config{}, err
	}
	cfg.Remote = r
	cfg.OTLP = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" ||
		getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
	return cfg, nil
}

// remoteFromEnv returns the server named by the TRIPSWITCH_* variables, or
// nil when TRIPSWITCH_PROJECT_ID is unset.
func remoteFromEnv(getenv func(string) string) (*remote, error) {
	r := &remote{
		BaseURL:      getenv("TRIPSWITCH_BASE_URL"),
		ProjectID:    getenv("TRIPSWITCH_PROJECT_ID"),
		ProjectKey:   getenv("TRIPSWITCH_API_KEY"),
		IngestSecret: getenv("TRIPSWITCH_INGEST_SECRET"),
		AdminKey:     getenv("TRIPSWITCH_ADMIN_KEY"),
	}
	switch v := strings.ToLower(getenv("TRIPSWITCH_INSECURE_HTTP")); v {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		r.InsecureHTTP = true
	default:
		return nil, fmt.Errorf("TRIPSWITCH_INSECURE_HTTP=%q: want 1 or 0", v)
	}
	if r.ProjectID == "" {
		if r.BaseURL != "" || r.ProjectKey != "" || r.IngestSecret != "" {
			return nil, errors.New("TRIPSWITCH_PROJECT_ID is not set, but other TRIPSWITCH_* variables are: set it to use that server, or unset them all to use the in-process local server")
		}
		return nil, nil
	}
	var missing []string
	if r.ProjectKey == "" {
		missing = append(missing, "TRIPSWITCH_API_KEY")
	}
	if r.IngestSecret == "" {
		missing = append(missing, "TRIPSWITCH_INGEST_SECRET")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("TRIPSWITCH_PROJECT_ID is set, so %s must be set too", strings.Join(missing, " and "))
	}
	if r.BaseURL == "" {
		r.BaseURL = tripswitch.DefaultBaseURL
	}
	return r, nil
}
