package store_test

import (
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// TestDB_EnqueueHookHint_AdvancesARefetchOnce: within the cooldown, a
// webhook moves a row waiting on a re-fetch of a call not final to due now,
// once per re-fetch; replays of a done call change nothing.
func TestDB_EnqueueHookHint_AdvancesARefetchOnce(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	hint := store.Hint{ModelID: "agent-1", StartedAt: time.Now().Add(-time.Minute)}
	hook := func(want string) {
		t.Helper()
		got, err := db.EnqueueHookHint(ctx, "r1", hint, true, 10*time.Minute)
		if err != nil || got != want {
			t.Fatalf("EnqueueHookHint = %q, %v; want %q", got, err, want)
		}
	}
	if n, err := db.EnqueueListed(ctx, []store.Listed{{CallID: "r1", Hint: hint}}, time.Hour); err != nil || n != 1 {
		t.Fatalf("EnqueueListed = %d, %v", n, err)
	}
	hook(store.HookQueued) // the call ended: due now
	if got := readRow(t, db, "r1"); !got.Due {
		t.Fatalf("row after the webhook = %+v, want due", got)
	}
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET next_attempt_at = now() + interval '1 hour' WHERE call_id = 'r1'`); err != nil {
		t.Fatal(err)
	}
	hook(store.HookIgnored) // a replay: once per re-fetch
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET polls = polls + 1 WHERE call_id = 'r1'`); err != nil {
		t.Fatal(err)
	}
	hook(store.HookQueued) // re-fetched, still not final: once more
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET state = 'done' WHERE call_id = 'r1'`); err != nil {
		t.Fatal(err)
	}
	hook(store.HookIgnored) // final: replays are no-ops
	var model string
	var fetchBy string
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT model_id, fetch_by FROM sync_queue WHERE call_id = 'r1'`).Scan(&model, &fetchBy); err != nil || model != "agent-1" || fetchBy != "list" {
		t.Fatalf("row = %q, %q (%v), want the list page's agent, served by list", model, fetchBy, err)
	}
}

// TestDB_ClaimPoll: one poll of a model per period, whichever process asks
// first.
func TestDB_ClaimPoll(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	now := time.Now()
	start := now.Add(-3 * time.Minute)
	if _, first, ok, err := db.ClaimPoll(ctx, "agent-1", now, 30*time.Second, start); err != nil || !ok || !first {
		t.Fatalf("first claim: ok %v first %v, %v", ok, first, err)
	}
	if _, _, ok, err := db.ClaimPoll(ctx, "agent-1", now.Add(time.Second), 30*time.Second, start); err != nil || ok {
		t.Fatalf("second claim within the period: ok %v, %v; want refused", ok, err)
	}
	wm, first, ok, err := db.ClaimPoll(ctx, "agent-1", now.Add(31*time.Second), 30*time.Second, start)
	if err != nil || !ok || first || !wm.Equal(start.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("claim after the period: wm %v ok %v first %v, %v", wm, ok, first, err)
	}
}
