package store_test

import (
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// TestDB_EnqueueHook: replays within the cooldown change nothing; a failed
// row keeps its attempts.
func TestDB_EnqueueHook(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	hook := func(id string, cooldown time.Duration, want string) {
		t.Helper()
		got, err := db.EnqueueHook(ctx, id, cooldown)
		if err != nil || got != want {
			t.Fatalf("EnqueueHook(%s, %v) = %q, %v; want %q", id, cooldown, got, err, want)
		}
	}
	age := func(id string) {
		t.Helper()
		if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET updated_at = now() - interval '1 hour' WHERE call_id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
	hook("h1", 10*time.Minute, store.HookAdded)
	hook("h1", 10*time.Minute, store.HookIgnored) // queued: a replay changes nothing

	// A failed row: replays within the cooldown are ignored; after it, the
	// row is queued once with its attempts kept.
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET state = 'failed', attempts = 8, last_error = 'x' WHERE call_id = 'h1'`); err != nil {
		t.Fatal(err)
	}
	hook("h1", 10*time.Minute, store.HookIgnored)
	age("h1")
	hook("h1", 10*time.Minute, store.HookQueued)
	if got := readRow(t, db, "h1"); got.State != store.StatePending || got.Attempts != 8 || !got.Due {
		t.Fatalf("failed row after a webhook = %+v, want pending, due, attempts kept at 8", got)
	}
	hook("h1", 10*time.Minute, store.HookIgnored)

	// A done row: ignored while recent, then queued afresh.
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET state = 'done', attempts = 2 WHERE call_id = 'h1'`); err != nil {
		t.Fatal(err)
	}
	hook("h1", 10*time.Minute, store.HookIgnored)
	age("h1")
	hook("h1", 10*time.Minute, store.HookQueued)
	if got := readRow(t, db, "h1"); got.State != store.StatePending || got.Attempts != 0 {
		t.Fatalf("done row after a webhook = %+v, want pending with attempts reset", got)
	}
	// Running: flagged to be fetched again, once the cooldown has passed.
	l := claimAll(t, db)
	hook("h1", 10*time.Minute, store.HookIgnored)
	age("h1")
	hook("h1", 10*time.Minute, store.HookQueued)
	if got := readRow(t, db, "h1"); got.State != store.StateRunning || !got.Requeue {
		t.Fatalf("running row after a webhook = %+v, want running and flagged", got)
	}
	_ = l
}
