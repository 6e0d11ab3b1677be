package apitest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimit makes the server enforce a request rate like the real API's
// 30 requests per minute: a request that would be the (Requests+1)th
// accepted within any Window is answered 429 with a Retry-After (whole
// seconds, rounded up) saying when a slot frees up. Only accepted requests
// use up the window, so a client that backs off gets through. The zero
// value (Requests or Window zero) disables enforcement.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

func (rl RateLimit) enabled() bool { return rl.Requests > 0 && rl.Window > 0 }

// limiter is a sliding-window log of accepted request times.
type limiter struct {
	mu       sync.Mutex
	accepted []time.Duration // ascending; times on the counters' clock
}

// allow reports whether a request at now fits rl and records it if so;
// if not, wait is how long until the oldest accepted request leaves the
// window.
func (l *limiter) allow(now time.Duration, rl RateLimit) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !rl.enabled() {
		l.accepted = nil
		return true, 0
	}
	i := 0
	for i < len(l.accepted) && now-l.accepted[i] >= rl.Window {
		i++
	}
	l.accepted = l.accepted[i:]
	if len(l.accepted) >= rl.Requests {
		return false, l.accepted[len(l.accepted)-rl.Requests] + rl.Window - now
	}
	l.accepted = append(l.accepted, now)
	return true, 0
}

// tooManyRequests answers a request over the enforced rate limit.
func (x *exchange) tooManyRequests(wait time.Duration, rl RateLimit) {
	body := []byte(`{"error":"Rate limit exceeded: ` + strconv.Itoa(rl.Requests) + ` per ` + rl.Window.String() + `"}`)
	x.reply(http.StatusTooManyRequests, http.Header{"Retry-After": {retryAfterSeconds(wait)}}, body)
}
