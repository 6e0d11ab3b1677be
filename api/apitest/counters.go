package apitest

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// Counters record what clients did to a Server: every request's arrival
// time, endpoint and status, per-call fetches and injected faults. A
// request is counted when it arrives and its status before the response
// is sent, so once a client has its response the counters include it. All
// methods are safe for concurrent use.
type Counters struct {
	mu       sync.Mutex
	clock    func() time.Time // Options.Now
	epoch    time.Time        // arrival times are kept as offsets from it
	changed  chan struct{}    // closed and replaced at every arrival: see Wait
	arrivals []time.Duration
	total    int
	endpoint map[Endpoint]int
	status   map[int]int
	calls    map[string]int
	servedN  map[string]int
	faults   map[Fault]int
	steps    int
}

func newCounters(clock func() time.Time) *Counters {
	c := &Counters{clock: clock, epoch: clock(), changed: make(chan struct{})}
	c.resetLocked()
	return c
}

func (c *Counters) resetLocked() {
	c.arrivals = nil
	c.total = 0
	c.endpoint = map[Endpoint]int{}
	c.status = map[int]int{}
	c.calls = map[string]int{}
	c.servedN = map[string]int{}
	c.faults = map[Fault]int{}
	c.steps = 0
}

// now is the current time on the counters' clock, as an offset from its
// epoch (monotonic with time.Now).
func (c *Counters) now() time.Duration { return c.clock().Sub(c.epoch) }

// arrive counts a request; the time is taken under the lock so arrivals
// stay sorted.
func (c *Counters) arrive(ep Endpoint, callID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.arrivals = append(c.arrivals, c.now())
	c.total++
	c.endpoint[ep]++
	if ep == EndpointGetCall {
		c.calls[callID]++
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Wait returns once cond holds, checking it at once and again after every
// request that arrives, or ctx's error when ctx ends first. cond may call
// c's methods. Tests use it to wait for requests instead of sleeping:
//
//	err := srv.Counters().Wait(ctx, func(c *apitest.Counters) bool { return c.Total() > 0 })
func (c *Counters) Wait(ctx context.Context, cond func(*Counters) bool) error {
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if cond(c) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Counters) finish(status int) {
	c.mu.Lock()
	c.status[status]++
	c.mu.Unlock()
}

func (c *Counters) served(callID string) {
	c.mu.Lock()
	c.servedN[callID]++
	c.mu.Unlock()
}

func (c *Counters) injected(f Fault) {
	c.mu.Lock()
	c.faults[f]++
	c.mu.Unlock()
}

func (c *Counters) scripted() {
	c.mu.Lock()
	c.steps++
	c.mu.Unlock()
}

// Reset zeroes every counter and forgets the arrival times.
func (c *Counters) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetLocked()
}

// Total returns the number of requests received, of any kind.
func (c *Counters) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Endpoint returns the number of requests to one route.
func (c *Counters) Endpoint(ep Endpoint) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endpoint[ep]
}

// Status returns how many responses had this status code. Status 0 counts
// requests answered without a response: connection resets and requests
// abandoned during a delay.
func (c *Counters) Status(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status[code]
}

// Statuses returns a copy of the count per status code.
func (c *Counters) Statuses() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.status)
}

// CallRequests returns how many GET /v2/calls/{id} requests named this
// call, whatever their outcome (faults and 404s included).
func (c *Counters) CallRequests(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// CallServed returns how many times the call was served in full (200 with
// its body, not truncated), to prove a call was not fetched twice.
func (c *Counters) CallServed(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servedN[id]
}

// Calls returns a copy of the GET /v2/calls/{id} request count per call ID.
func (c *Counters) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// Served returns a copy of the count of full 200 responses per call ID.
func (c *Counters) Served() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.servedN)
}

// Faults returns how many times fault f was injected, randomly or by a
// script.
func (c *Counters) Faults(f Fault) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults[f]
}

// Scripted returns how many scripted steps were consumed.
func (c *Counters) Scripted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.steps
}

// Arrivals returns every request's arrival time, in order.
func (c *Counters) Arrivals() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, len(c.arrivals))
	for i, d := range c.arrivals {
		out[i] = c.epoch.Add(d)
	}
	return out
}

// MaxInWindow returns the largest number of requests that arrived within
// any interval of length d (half-open, so two requests exactly d apart are
// not in the same window). Use it to prove a client stayed under a rate
// limit: MaxInWindow(time.Minute) <= 30. It returns 0 for d <= 0.
func (c *Counters) MaxInWindow(d time.Duration) int {
	c.mu.Lock()
	a := slices.Clone(c.arrivals)
	c.mu.Unlock()
	return maxInWindow(a, d)
}

// maxInWindow is MaxInWindow over sorted offsets.
func maxInWindow(a []time.Duration, d time.Duration) int {
	if d <= 0 {
		return 0
	}
	best, i := 0, 0
	for j := range a {
		for a[j]-a[i] >= d {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}
