package store_test

import (
	"testing"
	"time"

	"github.com/callsync/callsync/store"
)

// The store tests' helpers that wait for something. Tests wait on
// conditions the database reports, never on a fixed sleep.

// waitForLockWait returns once a session of db waits for a row lock.
func waitForLockWait(t *testing.T, db *store.DB) {
	t.Helper()
	for {
		if one[int64](t, db, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0 {
			return
		}
		select {
		case <-t.Context().Done():
			t.Fatal("no writer waited for the row lock")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
