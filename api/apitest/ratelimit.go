package apitest

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit makes the server enforce a request rate like the real API's
// 30 requests per minute: a request that would be the (Requests+1)th
// accepted within any Window is answered 429 with a Retry-After (whole
// seconds, rounded up) saying when a slot frees up. Only accepted requests
// use up the window, so a client that backs off gets through. Every
// authenticated request counts, whatever its route. The zero value
// (Requests or Window zero) disables enforcement.
type RateLimit struct {
	Requests int
	Window   time.Duration
	// NoRetryAfter answers the 429 without Retry-After, as Synthflow
	// documents it: a client must find its own pace.
	NoRetryAfter bool
	// PerKey counts requests per API key (the bearer token), as Synthflow
	// counts them, rather than for the server as a whole.
	PerKey bool
}

func (rl RateLimit) enabled() bool { return rl.Requests > 0 && rl.Window > 0 }

// maxLimitKeys bounds the keys a per-key limit tracks, so that a client
// sending a new token with every request cannot grow the server's memory
// without bound; beyond it, keys share one log.
const maxLimitKeys = 1024

// limiter is a sliding-window log of accepted request times, per key.
type limiter struct {
	mu       sync.Mutex
	accepted map[string][]time.Duration // ascending; times on the counters' clock
}

// allow reports whether a request with key at now fits rl and records it
// if so; if not, wait is how long until the oldest accepted request leaves
// the window.
func (l *limiter) allow(now time.Duration, rl RateLimit, key string) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !rl.enabled() {
		l.accepted = nil
		return true, 0
	}
	if !rl.PerKey {
		key = ""
	}
	if l.accepted == nil {
		l.accepted = map[string][]time.Duration{}
	}
	if _, known := l.accepted[key]; !known && len(l.accepted) >= maxLimitKeys {
		l.prune(now, rl.Window)
		if len(l.accepted) >= maxLimitKeys {
			key = "\x00overflow"
		}
	}
	log := l.accepted[key]
	i := 0
	for i < len(log) && now-log[i] >= rl.Window {
		i++
	}
	log = log[i:]
	if len(log) >= rl.Requests {
		l.accepted[key] = log
		return false, log[len(log)-rl.Requests] + rl.Window - now
	}
	l.accepted[key] = append(log, now)
	return true, 0
}

// prune forgets the keys with no request in the window.
func (l *limiter) prune(now, window time.Duration) {
	for k, log := range l.accepted {
		if len(log) == 0 || now-log[len(log)-1] >= window {
			delete(l.accepted, k)
		}
	}
}

// bearer returns the token of r's Authorization header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// tooManyRequests answers a request over the enforced rate limit.
func (x *exchange) tooManyRequests(wait time.Duration, rl RateLimit) {
	if rl.NoRetryAfter {
		x.reply(http.StatusTooManyRequests, nil, bodyTooManyRequests)
		return
	}
	body := []byte(`{"error":"Rate limit exceeded: ` + strconv.Itoa(rl.Requests) + ` per ` + rl.Window.String() + `"}`)
	x.reply(http.StatusTooManyRequests, http.Header{"Retry-After": {retryAfterSeconds(wait)}}, body)
}
