package main

import (
	"bytes"
	"net/http"
	"sync"
	"time"
)

// metricsCacheFor is how long a rendering of /metrics is served again.
// Prometheus scrapes every 15 s or so; many scrapers at once, or one
// scraping in a loop, then cost one rendering a second, not one each, and
// cannot take the CPU the webhook needs.
const metricsCacheFor = time.Second

// cachedMetrics serves h's answer again, for up to maxAge, to requests that
// ask for the same format (Accept and Accept-Encoding); one request renders
// while the others of its format wait for that rendering.
func cachedMetrics(h http.Handler, maxAge time.Duration) http.Handler {
	c := &metricsCache{h: h, maxAge: maxAge, entries: map[string]*cachedAnswer{},
		slots: make(chan struct{}, metricsInFlight)}
	return c
}

// metricsInFlight is how many /metrics answers are written at once; more
// scrapers wait their turn, idle, so that however many there are they
// share the CPU with the webhook as two would.
const metricsInFlight = 2

// metricsEvery spaces /metrics answers: at most 20 a second, whoever asks.
// Prometheus asks once per scrape interval (15 s or so) per server; a
// scraper in a loop waits, idle, instead of taking the CPU the webhook
// needs. A request that would wait more than metricsMaxWait gets 429.
const (
	metricsEvery   = 50 * time.Millisecond
	metricsMaxWait = 8 * time.Second
)

type metricsCache struct {
	h       http.Handler
	maxAge  time.Duration
	slots   chan struct{}
	paceMu  sync.Mutex
	next    time.Time // the earliest time the next answer may start
	mu      sync.Mutex
	entries map[string]*cachedAnswer
}

type cachedAnswer struct {
	mu     sync.Mutex // held while rendering
	at     time.Time
	code   int
	header http.Header
	body   []byte
}

// maxMetricsFormats bounds the cache: clients choose the key.
const maxMetricsFormats = 8

func (c *metricsCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if wait, ok := c.reserve(); !ok {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many scrapes", http.StatusTooManyRequests)
		return
	} else if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the scraper gave up
		}
	}
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-r.Context().Done():
		return // the scraper gave up
	}
	key := r.Header.Get("Accept") + "\x00" + r.Header.Get("Accept-Encoding")
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		if len(c.entries) >= maxMetricsFormats {
			clear(c.entries)
		}
		e = &cachedAnswer{}
		c.entries[key] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	if time.Since(e.at) > c.maxAge {
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		c.h.ServeHTTP(rec, r)
		e.code, e.header, e.body, e.at = rec.code, rec.header, rec.body.Bytes(), time.Now()
	}
	code, header, body := e.code, e.header, e.body
	e.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	_, _ = w.Write(body) // the scraper may be gone; nothing to do
}

// reserve books the next answer's start and returns how long to wait for
// it; false when that would be more than metricsMaxWait (nothing booked).
func (c *metricsCache) reserve() (time.Duration, bool) {
	c.paceMu.Lock()
	defer c.paceMu.Unlock()
	now := time.Now()
	at := now
	if c.next.After(now) {
		at = c.next
	}
	if wait := at.Sub(now); wait > metricsMaxWait {
		return 0, false
	}
	c.next = at.Add(metricsEvery)
	return at.Sub(now), true
}

// recorder is the http.ResponseWriter a rendering is kept in.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
