package apitest

import (
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
	clock    func() time.Time
	epoch    time.Time // arrival times are kept as monotonic offsets from it
	arrivals []time.Duration
	kinds    []Endpoint // the route of each arrival
	codes    []int16    // the status of each arrival, once answered; -1 before
	total    int
	endpoint map[Endpoint]int
	status   map[int]int
	calls    map[string]int
	servedN  map[string]int
	faults   map[Fault]int
	steps    int
}

func newCounters(clock func() time.Time) *Counters {
	if clock == nil {
		clock = time.Now
	}
	c := &Counters{clock: clock, epoch: clock()}
	c.resetLocked()
	return c
}

func (c *Counters) resetLocked() {
	c.arrivals = nil
	c.kinds = nil
	c.codes = nil
	c.total = 0
	c.endpoint = map[Endpoint]int{}
	c.status = map[int]int{}
	c.calls = map[string]int{}
	c.servedN = map[string]int{}
	c.faults = map[Fault]int{}
	c.steps = 0
}

// now is the current time on the counters' clock, as an offset from
// its epoch.
func (c *Counters) now() time.Duration { return c.clock().Sub(c.epoch) }

// arrive counts a request and returns its index in the request log, for
// finish; the time is taken under the lock so arrivals stay sorted.
func (c *Counters) arrive(ep Endpoint, callID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.arrivals = append(c.arrivals, c.clock().Sub(c.epoch))
	c.kinds = append(c.kinds, ep)
	c.codes = append(c.codes, -1)
	c.total++
	c.endpoint[ep]++
	if ep == EndpointGetCall {
		c.calls[callID]++
	}
	return len(c.arrivals) - 1
}

// finish counts the status of request i (an index from arrive); a Reset
// since its arrival leaves the log alone.
func (c *Counters) finish(i, status int) {
	c.mu.Lock()
	c.status[status]++
	if i < len(c.codes) && c.codes[i] == -1 {
		c.codes[i] = int16(status)
	}
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

// Request is one entry of the request log: when a request arrived, the
// route it asked for and the status it was answered (0: no response, -1:
// not answered yet).
type Request struct {
	At       time.Time
	Endpoint Endpoint
	Status   int
}

// Requests returns the request log since the last Reset, in arrival
// order.
func (c *Counters) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Request, len(c.arrivals))
	for i, d := range c.arrivals {
		out[i] = Request{At: c.epoch.Add(d), Endpoint: c.kinds[i], Status: int(c.codes[i])}
	}
	return out
}
