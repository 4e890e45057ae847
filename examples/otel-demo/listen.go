package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// listener is an endpoint's listening socket, opened before anything else
// starts so that a busy port is reported at once.
type listener struct {
	net.Listener
	note string // why the address differs from the one asked for; "" when it does not
}

// listen opens addr for the endpoint of flag -name. When the address is
// the default (given false) and already in use, it listens on a free port
// of the same host instead. An address the user gave that cannot be
// opened is a usageError that names the flag and how to choose another.
func listen(name, addr string, given bool) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return &listener{Listener: ln}, nil
	}
	host, _, splitErr := net.SplitHostPort(addr)
	busy := errors.Is(err, syscall.EADDRINUSE)
	if busy && !given && splitErr == nil {
		if ln, err2 := net.Listen("tcp", net.JoinHostPort(host, "0")); err2 == nil {
			return &listener{Listener: ln, note: fmt.Sprintf("%s was in use; -%s chooses the address", addr, name)}, nil
		}
	}
	if busy && splitErr == nil {
		hint := fmt.Sprintf("-%s %s picks a free port", name, net.JoinHostPort(host, "0"))
		if name == "metrics-addr" {
			hint += `, -metrics-addr "" turns the endpoint off`
		}
		return nil, usageError{fmt.Errorf("-%s %s: the address is already in use; choose another (%s)", name, addr, hint)}
	}
	return nil, usageError{fmt.Errorf("-%s %s: %w", name, addr, err)}
}
