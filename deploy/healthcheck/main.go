// Command healthcheck is the health probe of the compose stack's images,
// which are distroless (no shell, no curl). It sends one GET and exits 0
// when the answer is 2xx, 1 otherwise (2 for bad arguments):
//
//	healthcheck [-bearer-env NAME] [-timeout 2s] URL
//
// -bearer-env names an environment variable of the container whose value
// is sent as a bearer token, so that the token never appears in the
// command. The token is never printed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(probe(os.Args[1:], os.Getenv, os.Stderr))
}

// probe runs the check and returns the exit status.
func probe(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bearerEnv := fs.String("bearer-env", "", "environment variable holding a bearer token to send")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "healthcheck: want exactly one URL")
		return 2
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "healthcheck: %q is not an http(s) URL\n", fs.Arg(0))
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "healthcheck: -timeout must be positive")
		return 2
	}
	var token string
	if *bearerEnv != "" {
		if token = getenv(*bearerEnv); token == "" {
			fmt.Fprintf(stderr, "healthcheck: -bearer-env %s: the variable is empty\n", *bearerEnv)
			return 2
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 2
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: GET %s: %v\n", u.Redacted(), errWithout(err, token))
		return 1
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "healthcheck: GET %s: %s\n", u.Redacted(), resp.Status)
		return 1
	}
	return 0
}

// errWithout returns err's text without the token. net/http does not put
// headers in errors; this keeps it so whatever the error.
func errWithout(err error, token string) string {
	if token == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), token, "[redacted]")
}
