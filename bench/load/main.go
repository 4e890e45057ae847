package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

func mainErr(args []string, stdout, stderr io.Writer) int {
	cfg, profile, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	return 0
}

// parseFlags returns the run's configuration and the CPU profile file ("" for
// none).
func parseFlags(args []string, stderr io.Writer) (cfg Config, cpuProfile string, err error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg = DefaultConfig()
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long the callers run")
	fs.IntVar(&cfg.Goroutines, "goroutines", cfg.Goroutines, "number of concurrent callers")
	fs.BoolVar(&cfg.Prepared, "prepared", cfg.Prepared, "call through tripswitch.Prepare instead of passing options to every Execute")
	fs.IntVar(&cfg.SampleEvery, "sample-every", cfg.SampleEvery, "time a direct call and an Execute call every N calls per caller")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "most calls per second of all callers together (0: unlimited)")
	fs.StringVar(&cfg.Server, "server", cfg.Server, "run this tripswitch-local binary as the server, in a process of its own (default: a server in this process)")
	fs.IntVar(&cfg.Buffer, "buffer", cfg.Buffer, "the client's buffer capacity in samples (0: tripswitch.DefaultBufferCapacity)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintf(stderr, "load: %v\n", err)
		return cfg, "", err
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return cfg, "", err
	}
	return cfg, cpuProfile, nil
}

// DefaultConfig returns the configuration of a plain `go run ./bench/load`.
func DefaultConfig() Config {
	return Config{
		Duration:    30 * time.Second,
		Goroutines:  8,
		SampleEvery: 64,
	}
}
