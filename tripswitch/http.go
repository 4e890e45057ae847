package tripswitch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/tripswitch-otel/tripswitch-go/internal/version"
)

// newRequest builds a request to the project's API path, with the
// project key and the user agent.
func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.cfg.projectKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.projectKey)
	}
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

const userAgent = "tripswitch-go/" + Version

// Version is the version of this module.
const Version = version.Version

// transportError describes a failed request without its URL's secrets (the
// URL holds none, but errors from net/http repeat it; keep them short).
func transportError(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

// redirectError is a redirect the client refused.
type redirectError struct {
	from, to string // origins
}

func (e *redirectError) Error() string {
	return "refusing a redirect from " + e.from + " to " + e.to + ": it leaves the configured base URL's origin"
}

// sameOrigin refuses redirects that leave base's scheme, host and port,
// which would carry the project key elsewhere (or in clear text), then
// defers to the caller's policy (next), or to the usual limit of 10.
func sameOrigin(base *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	want := origin(base)
	return func(req *http.Request, via []*http.Request) error {
		if got := origin(req.URL); got != want {
			return &redirectError{from: want, to: got}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// origin returns scheme://host:port, lower-cased, with the default port.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
