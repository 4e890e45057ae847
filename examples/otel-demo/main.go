package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	status := mainStatus(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(status)
}

// mainStatus runs the demo and returns the process's exit status: 0 when
// the breakers tripped and recovered, 1 otherwise, 2 for bad flags,
// environment or listen addresses. Cancelling ctx stops the load early.
func mainStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "otel-demo:", err)
		return 2
	}
	if f, ok := stdout.(*os.File); ok {
		cfg.Color = colorOutput(f, getenv("NO_COLOR"))
	}
	cfg.warn = stderr
	sum, err := run(ctx, cfg, stdout)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "otel-demo:", err)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "otel-demo:", err)
		return 1
	case !sum.OK():
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
