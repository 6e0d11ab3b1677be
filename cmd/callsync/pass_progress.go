package main

import (
	"log/slog"
	"sync"
	"time"

	callsync "github.com/callsync/callsync/sync"
)

// passProgressInterval spaces the progress lines of a long sync pass; a
// pass expected to take less says nothing until its summary.
const passProgressInterval = 10 * time.Second

// passProgress reports a long sync pass while it runs, from the API
// requests it sends (api.Options.Observe: about one per call) and the
// batches it settles (callsync.Syncer.ObserveBatch): at the start how many
// calls are due and how long they take at the API budget, then every
// passProgressInterval how many requests went out, how many calls remain
// and when the pass should end. Requests and batches end concurrently: it
// is safe for concurrent use.
type passProgress struct {
	logger *slog.Logger
	rps    float64 // the API budget in requests per second; 0: none
	now    func() time.Time

	mu       sync.Mutex
	start    time.Time
	last     time.Time // last line
	due      int       // calls due when the pass started
	requests int       // API requests answered so far
	settled  int       // queue rows settled so far
}

// begin starts reporting a pass that has due calls due, and logs what it
// should take when that is an interval or more (known at the start only
// with a budget).
func (p *passProgress) begin(due int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = p.now()
	p.last, p.due, p.requests, p.settled = p.start, due, 0, 0
	expected, known := p.expected(due)
	if !known || expected < passProgressInterval {
		return
	}
	p.logger.Info("sync pass started", "due", due, "expected", expected.Round(time.Second),
		"rate_limit_per_minute", int(p.rps/callsync.RateMargin*60+0.5))
}

// end stops reporting: requests between passes (polls, the agents'
// refresh) are not the pass's.
func (p *passProgress) end() {
	p.mu.Lock()
	p.start = time.Time{}
	p.mu.Unlock()
}

// batch counts a settled batch: the outcomes it added to the pass.
func (p *passProgress) batch(d callsync.Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settled += d.Done + d.Polling + d.Retrying + d.Failed + d.RateLimited + d.Released + d.Lost + d.Erased
}

// request counts an answered API request and logs the progress when it is
// time to: a pass shorter than the interval says nothing until its summary.
func (p *passProgress) request() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	now := p.now()
	if p.start.IsZero() || now.Sub(p.last) < passProgressInterval {
		return
	}
	p.last = now
	remaining := max(p.due-p.requests, 0)
	attrs := []any{"requests", p.requests, "due", p.due, "remaining", remaining, "settled", p.settled,
		"elapsed", now.Sub(p.start).Round(time.Second)}
	if left, ok := p.expected(remaining); ok {
		attrs = append(attrs, "eta", left.Round(time.Second))
	}
	p.logger.Info("sync pass progress", attrs...)
}

// expected is how long n requests take at the budget: about one request per call. Without a budget it is the pace seen
// so far in the pass, unknown (false) before the first request.
func (p *passProgress) expected(n int) (time.Duration, bool) {
	if p.rps > 0 {
		return time.Duration(float64(max(n, 0)) / p.rps * float64(time.Second)), true
	}
	elapsed := p.now().Sub(p.start)
	if p.requests == 0 || elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(elapsed) / float64(p.requests) * float64(n)), true
}
