package httpx

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ParseBaseURL parses raw as the base URL of an API: an absolute http or
// https URL with a host, and without user information, query or fragment.
// raw is not trimmed. Errors start with "base URL" and never repeat user
// information.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("base URL %q is not a URL: %w", raw, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("base URL %q must use http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("base URL %q has no host", u.Redacted())
	}
	if u.User != nil {
		return nil, errors.New("base URL must not contain user information")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("base URL %q must not have a query or fragment", u.Redacted())
	}
	return u, nil
}

// PlainHTTPToRemote reports whether a request to u would travel over plain
// http to a host other than a loopback one, so that credentials would cross
// a network unencrypted.
func PlainHTTPToRemote(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, "http") && !IsLoopback(u.Hostname())
}

// IsLoopback reports whether host (without port) names this machine:
// "localhost" or a name under ".localhost", in any case, or a loopback IP
// address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || hasSuffixFold(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
