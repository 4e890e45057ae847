package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(mainStatus())
}

// mainStatus runs the demo and returns the process's exit status: 0 when
// the breakers tripped and recovered, 1 otherwise, 2 for bad flags.
func mainStatus() int {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "otel-demo:", err)
		return 2
	}
	cfg.Color = colorOutput(os.Stdout, os.Getenv("NO_COLOR"))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	sum, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "otel-demo:", err)
		return 1
	}
	if !sum.OK() {
		return 1
	}
	return 0
}

// colorOutput reports whether f is a terminal and colour is not disabled
// by NO_COLOR (https://no-color.org: any non-empty value).
func colorOutput(f *os.File, noColor string) bool {
	if noColor != "" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
