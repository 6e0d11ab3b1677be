package store

import (
	"context"
	"fmt"
)

// queueChannel is the channel on which the database announces queue rows
// that became due (migration 00013's trigger).
const queueChannel = "callsync_queue"

// ListenQueued listens for the database's announcements that queue rows
// became due, from any process, and calls fn for each one, until ctx ends
// or the connection fails; it returns why. Once listening, it calls
// listening (if not nil): rows queued before that were not announced to it.
// It holds a connection of its own, taken out of the pool.
func (db *DB) ListenQueued(ctx context.Context, listening, fn func()) error {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen for queued calls: %w", err)
	}
	conn := pc.Hijack() // a listening session is no longer fit for the pool
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+queueChannel); err != nil {
		return fmt.Errorf("listen for queued calls: %w", err)
	}
	if listening != nil {
		listening()
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for queued calls: %w", err)
		}
		fn()
	}
}
