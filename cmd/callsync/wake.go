package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/store"
)

// wakeDebounce is how long a wake-up waits for more queued calls before its
// pass starts: a burst of webhooks starts one pass, not one each.
const wakeDebounce = 250 * time.Millisecond

// relistenDelay is the pause before listening again after the listening
// connection failed; meanwhile the schedule still runs passes.
const relistenDelay = 5 * time.Second

// passGate runs one pass at a time, whoever asks: the schedule or a
// wake-up. A wake-up that finds a pass running makes it run once more when
// it ends, since the running pass may have claimed before the call came.
type passGate struct {
	mu      sync.Mutex
	running bool
	again   bool
}

// run runs pass unless one is running; then, with queue, it has the
// running one run again after, and without, it does nothing. It reports
// whether it ran pass.
func (g *passGate) run(pass func(), queue bool) bool {
	g.mu.Lock()
	if g.running {
		g.again = g.again || queue
		g.mu.Unlock()
		return false
	}
	g.running = true
	g.mu.Unlock()
	for {
		pass()
		g.mu.Lock()
		if !g.again {
			g.running = false
			g.mu.Unlock()
			return true
		}
		g.again = false
		g.mu.Unlock()
	}
}

// wanted reports whether a wake-up waits for the running pass: work that
// only uses what intake leaves (archiving) gives way.
func (g *passGate) wanted() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.again
}

// wakeOnQueued starts a pass, through gate, when the database announces
// queued calls that are due (store.ListenQueued), from this process or any
// other, until ctx ends. A failed listening connection is logged and
// opened again, and a pass runs then for the calls queued while it was
// down.
func wakeOnQueued(ctx context.Context, db *store.DB, logger *slog.Logger, gate *passGate, pass func()) {
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for ctx.Err() == nil {
			err := db.ListenQueued(ctx, nil, signal)
			if ctx.Err() != nil {
				return
			}
			logger.Warn("not listening for queued calls; passes run on the schedule until it works again",
				"retry_in", relistenDelay, tint.Err(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(relistenDelay):
			}
			signal()
		}
	})
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		select { // let the burst arrive
		case <-ctx.Done():
			return
		case <-time.After(wakeDebounce):
		}
		select {
		case <-wake:
		default:
		}
		logger.Debug("calls queued; starting a pass")
		gate.run(pass, true)
	}
}
