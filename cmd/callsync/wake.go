package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/callsync/callsync/store"
)

// wakeDebounce is how long a wake-up waits for more queued calls before its
// pass starts: a burst of webhooks starts one pass, not one each.
const wakeDebounce = 250 * time.Millisecond

// wakeEvery is the least time between the starts of two woken passes.
// Anyone who can connect to the database can send the wake-up (PostgreSQL
// cannot restrict NOTIFY, not even for a read-only role): however often it
// comes, it starts at most one pass a second, and a pass that finds
// nothing due costs two small statements (see passRunner.runWoken).
const wakeEvery = time.Second

// relistenDelay is the pause before listening again after the listening
// connection failed; meanwhile the schedule still runs passes.
const relistenDelay = 5 * time.Second

// passGate runs one pass at a time, whoever asks: the schedule or a
// wake-up. A wake-up that finds a pass running has its own pass run once
// when the running one ends, since the running pass may have claimed
// before the call came. Its own: a scheduled pass records itself whatever
// it found, a woken one only when it found work, so a wake-up must not
// turn into another scheduled pass (anyone who can connect can send one).
type passGate struct {
	mu      sync.Mutex
	running bool
	again   func() // the pass a wake-up queued while one ran
}

// run runs pass unless one is running; then, with queue, it has pass run
// after the running one, and without, it does nothing. It reports whether
// it ran pass.
func (g *passGate) run(pass func(), queue bool) bool {
	g.mu.Lock()
	if g.running {
		if queue {
			g.again = pass
		}
		g.mu.Unlock()
		return false
	}
	g.running = true
	g.mu.Unlock()
	for pass != nil {
		pass()
		g.mu.Lock()
		pass, g.again = g.again, nil
		g.running = pass != nil
		g.mu.Unlock()
	}
	return true
}

// wanted reports whether a wake-up waits for the running pass: work that
// only uses what intake leaves (archiving) gives way.
func (g *passGate) wanted() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.again != nil
}

// wakeOnQueued starts a pass, through gate, when the database announces
// queued calls that are due (store.ListenQueued), from this process or any
// other, until ctx ends. A failed listening connection is logged and
// opened again, and a pass runs then for the calls queued while it was
// down.
func wakeOnQueued(ctx context.Context, db *store.DB, logger *slog.Logger, gate *passGate, pass func(), notify func()) {
	wake := make(chan struct{}, 1)
	signal := func() {
		if notify != nil {
			notify()
		}
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		down := false // logged once per outage, not at every try
		listening := func() {
			if down {
				logger.Info("listening for queued calls again")
				down = false
			}
		}
		for ctx.Err() == nil {
			err := db.ListenQueued(ctx, listening, signal)
			if ctx.Err() != nil {
				return
			}
			if !down {
				logger.Warn("not listening for queued calls; passes run on the schedule until it works again",
					"retry_every", relistenDelay, errAttr(err))
				down = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(relistenDelay):
			}
			signal()
		}
	})
	var last time.Time // when the last woken pass started
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		select { // let the burst arrive, and keep woken passes wakeEvery apart
		case <-ctx.Done():
			return
		case <-time.After(max(wakeDebounce, time.Until(last.Add(wakeEvery)))):
		}
		last = time.Now()
		select {
		case <-wake:
		default:
		}
		logger.Debug("calls queued; starting a pass")
		gate.run(pass, true)
	}
}
