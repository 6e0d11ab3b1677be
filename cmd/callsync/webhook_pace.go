package main

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// bodyPace reads a request body that must arrive at rate bytes a second
// after a grace of webhookBodyGrace, and whole within bodyTimeout: before
// each read it sets the connection's read deadline to the moment the bytes
// read so far fall behind that pace. A body that trickles is cut off with
// os.ErrDeadlineExceeded after about a second, whatever its length.
type bodyPace struct {
	r     io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	rate  int64 // bytes a second; 0: only bodyTimeout
	n     int64 // bytes read so far
}

func (p *bodyPace) Read(b []byte) (int, error) {
	deadline := p.start.Add(bodyTimeout)
	if p.rate > 0 {
		if d := p.start.Add(webhookBodyGrace + time.Duration(p.n*int64(time.Second)/p.rate)); d.Before(deadline) {
			deadline = d
		}
	}
	_ = p.rc.SetReadDeadline(deadline) // unsupported: the server's ReadTimeout holds
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}

func (p *bodyPace) Close() error { return p.r.Close() }

// tooSlow says why a body that hit its deadline was cut off.
func (p *bodyPace) tooSlow() string {
	if p.rate > 0 {
		return "body slower than " + strconv.FormatInt(p.rate, 10) + " bytes a second or not received within " + bodyTimeout.String()
	}
	return "body not received within " + bodyTimeout.String()
}

// clientSlots counts the bodies each remote address is sending, so that
// one address holds at most max of the webhook's slots. Its memory is one
// entry per address with a body in flight. A nil *clientSlots limits
// nothing.
type clientSlots struct {
	max int // 0: no limit
	mu  sync.Mutex
	n   map[string]int
}

func newClientSlots(max int) *clientSlots {
	return &clientSlots{max: max, n: map[string]int{}}
}

// acquire takes one of client's slots, or reports that it holds them all.
func (c *clientSlots) acquire(client string) bool {
	if c == nil || c.max == 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[client] >= c.max {
		return false
	}
	c.n[client]++
	return true
}

// release gives back a slot acquire took.
func (c *clientSlots) release(client string) {
	if c == nil || c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[client]--; c.n[client] <= 0 {
		delete(c.n, client)
	}
}

// remoteHost is the address part of a request's RemoteAddr: the client,
// whatever port it sends from.
func remoteHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
