package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

func TestDB_Claim_ReturnsStoredCall(t *testing.T) {
	db := testDB(t)
	mustSave(t, db, hashed("a", "h1"))
	noHash := fullCall("b")
	noHash.Status = nil
	mustSave(t, db, noHash)
	mustEnqueue(t, db, "a", "b", "new")
	got := map[string]*store.Stored{}
	for _, r := range claimAll(t, db).Rows {
		got[r.CallID] = r.Stored
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := map[string]*store.Stored{
		"a":   {PayloadHash: []byte("h1"), Status: new("completed"), StartedAt: &start},
		"b":   {StartedAt: &start},
		"new": nil,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Fatalf("stored calls (-want +got):\n%s", diff)
	}
}

// touchedAt returns the synced_at of call id.
func touchedAt(t *testing.T, db *store.DB, id string) time.Time {
	t.Helper()
	var at time.Time
	if err := storetest.PoolOf(db).QueryRow(t.Context(), `SELECT synced_at FROM calls WHERE call_id = $1`, id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

func TestDB_Complete_UnchangedTouchesOnlySyncedAt(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustSave(t, db, hashed("a", "h1"))
	before := storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at")
	was := touchedAt(t, db, "a")
	mustEnqueue(t, db, "a")
	l := claimAll(t, db)
	res, err := db.Complete(ctx, l.Token, []store.Outcome{
		{CallID: "a", UnchangedHash: []byte("h1"), State: store.StateDone},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || len(res.Stale) != 0 || len(res.Lost) != 0 {
		t.Fatalf("result = %+v, want 1 unchanged", res)
	}
	if !touchedAt(t, db, "a").After(was) {
		t.Error("synced_at did not move")
	}
	if diff := cmp.Diff(before, storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at")); diff != "" {
		t.Fatalf("an unchanged call changed rows (-before +after):\n%s", diff)
	}
	if r := readRow(t, db, "a"); r.State != store.StateDone {
		t.Fatalf("queue row %+v, want done", r)
	}
}

func TestDB_Complete_UnchangedButStoredCallChanged(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustSave(t, db, hashed("changed", "h1"), hashed("deleted", "h1"), hashed("same", "h1"))
	mustEnqueue(t, db, "changed", "deleted", "same")
	l := claimAll(t, db)

	// While the payloads were fetched, a backfill wrote a newer one and an
	// operator deleted a call.
	mustSave(t, db, hashed("changed", "h2"))
	if _, err := storetest.PoolOf(db).Exec(ctx, `DELETE FROM calls WHERE call_id = 'deleted'`); err != nil {
		t.Fatal(err)
	}
	was := touchedAt(t, db, "changed")
	res, err := db.Complete(ctx, l.Token, []store.Outcome{
		{CallID: "changed", UnchangedHash: []byte("h1"), State: store.StatePending, Delay: time.Hour, Poll: true},
		{CallID: "deleted", UnchangedHash: []byte("h1"), State: store.StateDone},
		{CallID: "same", UnchangedHash: []byte("h1"), State: store.StateDone},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || !cmp.Equal(res.Stale, []string{"changed", "deleted"}) {
		t.Fatalf("result = %+v, want 1 unchanged and stale [changed deleted]", res)
	}
	for _, id := range []string{"changed", "deleted"} {
		if r := readRow(t, db, id); r.State != store.StatePending || !r.Due || r.Polls != 0 || r.Attempts != 0 {
			t.Errorf("%s: queue row %+v, want pending, due now, no poll or attempt counted", id, r)
		}
	}
	if r := readRow(t, db, "same"); r.State != store.StateDone {
		t.Errorf("same: queue row %+v, want done", r)
	}
	if !touchedAt(t, db, "changed").Equal(was) {
		t.Error("the changed call's synced_at moved")
	}
	var hash []byte
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT payload_hash FROM calls WHERE call_id = 'changed'`).Scan(&hash); err != nil || string(hash) != "h2" {
		t.Fatalf("changed call's hash = %q (%v), want the newer h2 kept", hash, err)
	}
	var n int
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT count(*) FROM calls WHERE call_id = 'deleted'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("deleted call: %d rows (%v), want it to stay deleted", n, err)
	}
}

func TestDB_Complete_UnchangedWithRejectedCall(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustSave(t, db, hashed("same", "h1"), hashed("changed", "h1"))
	mustEnqueue(t, db, "same", "changed", "bad")
	l := claimAll(t, db)
	mustSave(t, db, hashed("changed", "h2"))
	bad := fullCall("bad")
	bad.Raw = []byte(`{"n": 1e999999}`) // jsonb refuses a number this large
	res, err := db.Complete(ctx, l.Token, []store.Outcome{
		{CallID: "same", UnchangedHash: []byte("h1"), State: store.StateDone},
		{CallID: "changed", UnchangedHash: []byte("h1"), State: store.StateDone},
		{CallID: "bad", Call: &bad, State: store.StateDone},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || !cmp.Equal(res.Stale, []string{"changed"}) || res.Rejected["bad"] == nil {
		t.Fatalf("result = %+v, want 1 unchanged, changed stale, bad rejected", res)
	}
	want := map[string]store.State{"same": store.StateDone, "changed": store.StatePending, "bad": store.StateRunning}
	for id, state := range want {
		if r := readRow(t, db, id); r.State != state {
			t.Errorf("%s: queue row %+v, want %s", id, r, state)
		}
	}
}
