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

type metricsCache struct {
	h       http.Handler
	maxAge  time.Duration
	slots   chan struct{}
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

// recorder is the http.ResponseWriter a rendering is kept in.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
