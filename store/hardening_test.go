package store_test

import (
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// TestDB_RescueCountsLostAttempt: a call whose worker dies with it counts
// an attempt each time, ends failed at the maximum, and the rows claimed
// with it are claimed alone afterwards, each settling on its own.
func TestDB_RescueCountsLostAttempt(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.Enqueue(ctx, []string{"poison", "ok1", "ok2"}); err != nil {
		t.Fatal(err)
	}
	const max = 3
	for try := 1; try <= max; try++ {
		lease := claimAll(t, db)
		if try == 1 && len(lease.Rows) != 3 {
			t.Fatalf("first claim took %v, want all three", ids(lease))
		}
		if try > 1 && (len(lease.Rows) != 1 || lease.Rows[0].CallID != "poison" || !lease.Rows[0].Suspect) {
			t.Fatalf("claim %d took %+v, want the suspect poison alone", try, lease.Rows)
		}
		expire(t, db) // the worker died holding the lease
		if n, err := db.RescueExpired(ctx, max); err != nil || n != len(lease.Rows) {
			t.Fatalf("RescueExpired = %d, %v; want %d", n, err, len(lease.Rows))
		}
		if try == 1 {
			// The innocent rows are suspects too, each claimed alone; they settle.
			for range 2 {
				l := claimAll(t, db)
				if len(l.Rows) != 1 || l.Rows[0].CallID == "poison" && len(l.Rows) > 1 {
					t.Fatalf("suspect claim took %v, want one row", ids(l))
				}
				if l.Rows[0].CallID == "poison" { // put it back for the loop, as if not yet fetched
					if err := db.Release(ctx, l.Token, ids(l)); err != nil {
						t.Fatal(err)
					}
					l = claimAll(t, db)
				}
				if _, err := db.Complete(ctx, l.Token, []store.Outcome{{CallID: l.Rows[0].CallID, State: store.StateDone}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	got := readRow(t, db, "poison")
	if got.State != store.StateFailed || got.Attempts != max || got.Error == nil {
		t.Fatalf("poison row = %+v, want failed after %d attempts with a reason", got, max)
	}
	for _, id := range []string{"ok1", "ok2"} {
		if got := readRow(t, db, id); got.State != store.StateDone || got.Attempts != 1 {
			t.Fatalf("%s = %+v, want done with the one lost attempt", id, got)
		}
	}
	var suspect bool
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT suspect FROM sync_queue WHERE call_id = 'ok1'`).Scan(&suspect); err != nil {
		t.Fatal(err)
	}
	if suspect {
		t.Fatal("a settled row is still suspect")
	}
}

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
