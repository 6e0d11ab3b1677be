package sync

import (
	"context"
	"math"
	"sync"
)

// Priorities of API requests when the budget binds: what lands new calls
// goes first, re-fetches of calls not final next, extras last.
const (
	PriorityNew     = 0 // list reads for new calls and polls
	PriorityRefetch = 1 // list reads and gets of calls seen before, lone gets
	PriorityExtra   = 2 // gets for the fields list pages lack
	priorities      = 3
)

// Turns hands out turns to send API requests, a few at a time, to the
// waiter of the highest priority first. The rate limiter spaces requests;
// Turns decides which request goes into it next, so that a list read that
// lands new calls never waits behind a queue of gets. A nil *Turns lets
// every request through.
type Turns struct {
	mu      sync.Mutex
	free    int
	waiting [priorities][]chan struct{}
}

// NewTurns returns turns for requestsPerSecond (0: no limit, nil Turns):
// about one second of requests in flight at once, at least one.
func NewTurns(requestsPerSecond float64) *Turns {
	if requestsPerSecond <= 0 {
		return nil
	}
	return &Turns{free: int(max(1, math.Ceil(requestsPerSecond)))}
}

// Take waits for a turn at priority prio and returns the function that
// gives it back (call it once the request is over), or ctx's error.
func (t *Turns) Take(ctx context.Context, prio int) (release func(), err error) {
	if t == nil {
		return func() {}, nil
	}
	prio = min(max(prio, 0), priorities-1)
	t.mu.Lock()
	if t.free > 0 && t.nobodyAhead(prio) {
		t.free--
		t.mu.Unlock()
		return t.giveBack, nil
	}
	ch := make(chan struct{})
	t.waiting[prio] = append(t.waiting[prio], ch)
	t.mu.Unlock()
	select {
	case <-ch:
		return t.giveBack, nil
	case <-ctx.Done():
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, w := range t.waiting[prio] {
			if w == ch {
				t.waiting[prio] = append(t.waiting[prio][:i], t.waiting[prio][i+1:]...)
				return nil, ctx.Err()
			}
		}
		// Handed a turn as ctx ended: pass it on.
		t.handOn()
		return nil, ctx.Err()
	}
}

// nobodyAhead reports whether no waiter of priority prio or higher waits.
func (t *Turns) nobodyAhead(prio int) bool {
	for p := 0; p <= prio; p++ {
		if len(t.waiting[p]) > 0 {
			return false
		}
	}
	return true
}

func (t *Turns) giveBack() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.handOn()
}

// handOn hands a turn given back to the first waiter of the highest
// priority, or keeps it free.
func (t *Turns) handOn() {
	for p := range t.waiting {
		if len(t.waiting[p]) > 0 {
			ch := t.waiting[p][0]
			t.waiting[p] = t.waiting[p][1:]
			close(ch)
			return
		}
	}
	t.free++
}
