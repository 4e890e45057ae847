// Package faultproxy is an in-process TCP proxy for fault-injection tests:
// it forwards connections to a target and can delay, stall, cut and reset
// them on command.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from a loopback listener to a target.
// Its methods are safe for concurrent use.
type Proxy struct {
	ln net.Listener

	mu      sync.Mutex
	target  string
	delay   time.Duration
	stalled bool
	refuse  bool
	resume  chan struct{} // closed when a stall ends
	conns   map[*link]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type link struct {
	client, server net.Conn
	ended          atomic.Int32 // pumps that have finished
}

// New starts a proxy to target ("host:port") on 127.0.0.1.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, resume: make(chan struct{}), conns: map[*link]struct{}{}}
	close(p.resume)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is "http://" + Addr().
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// SetTarget points new connections at another address (a restarted
// server); current connections are unaffected.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// SetDelay delays every forwarded chunk of bytes by d.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Stall stops forwarding bytes in both directions; connections stay open
// and new ones are accepted but stalled too.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled = true
		p.resume = make(chan struct{})
	}
}

// Resume ends a stall.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.resume)
	}
}

// Refuse makes the proxy reset new connections at once (on), or accept
// them again (off).
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Cut closes every open connection gracefully (FIN).
func (p *Proxy) Cut() { p.closeAll(false) }

// Reset aborts every open connection (RST).
func (p *Proxy) Reset() { p.closeAll(true) }

// Conns is the number of open connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	if p.stalled {
		p.stalled = false
		close(p.resume)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.closeAll(true)
	p.wg.Wait()
	return err
}

func (p *Proxy) closeAll(rst bool) {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		if rst {
			abort(l.client)
			abort(l.server)
		}
		l.client.Close()
		l.server.Close()
	}
}

func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse, target := p.refuse, p.target
		p.mu.Unlock()
		if refuse {
			abort(c)
			c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			abort(c)
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		if p.closed || p.refuse {
			// Closed or refused while dialling: a Reset that ran in the
			// meantime must not miss this connection.
			closed := p.closed
			p.mu.Unlock()
			abort(c)
			c.Close()
			s.Close()
			if closed {
				return
			}
			continue
		}
		p.conns[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(l, c, s)
		go p.pump(l, s, c)
	}
}

// pump copies src to dst chunk by chunk, honouring stalls and delays. At
// EOF it half-closes dst so the other direction can finish; any other end
// closes the whole link.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	halfClosed := false
	defer func() {
		if halfClosed && l.ended.Add(1) < 2 {
			return
		}
		l.client.Close()
		l.server.Close()
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			resume, delay := p.resume, p.delay
			p.mu.Unlock()
			<-resume
			if delay > 0 {
				time.Sleep(delay)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok && tc.CloseWrite() == nil {
					halfClosed = true
				}
			}
			return
		}
	}
}
