package store_test

import (
	"testing"
	"time"

	"github.com/callsync/callsync/store/storebench"
)

// TestCloneCalls lives with the store's tests, whose helpers check the
// rollups, though CloneCalls is storebench's.
func TestCloneCalls(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustSave(t, db, rollupCall("p-a", "m1", 1, "completed", 60), rollupCall("p-b", "m2", 2, "busy", 1),
		rollupCall("other", "m1", 3, "completed", 5))
	var done []int
	if err := storebench.CloneCalls(ctx, db, "p-", 60, 30*24*time.Hour, func(n int) { done = append(done, n) }); err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[1] != 60 {
		t.Errorf("progress reported %v, want two rounds ending at 60", done)
	}
	for sql, want := range map[string]int64{
		`SELECT count(*) FROM calls WHERE call_id LIKE 'clone-%'`:                                                   120,
		`SELECT count(*) FROM calls WHERE call_id LIKE 'clone-%-other'`:                                             0,
		`SELECT count(*) FROM transcript_lines WHERE call_id LIKE 'clone-%'`:                                        240,
		`SELECT count(*) FROM call_judgements WHERE call_id LIKE 'clone-%'`:                                         240,
		`SELECT count(*) FROM call_actions WHERE call_id LIKE 'clone-0000060-p-b'`:                                  2,
		`SELECT count(DISTINCT started_at) FROM calls WHERE call_id LIKE 'clone-%'`:                                 120,
		`SELECT count(*) FROM calls WHERE call_id LIKE 'clone-%' AND started_at < now() - interval '30 days'`:       0,
		`SELECT count(*) FROM calls WHERE call_id LIKE 'clone-%' AND started_at >= now() - interval '28 days'`:      112,
		`SELECT count(*) FROM calls WHERE call_id = 'clone-0000001-p-a' AND started_at > now() - interval '1 hour'`: 1,
	} {
		if got := one[int64](t, db, sql); got != want {
			t.Errorf("%s = %d, want %d", sql, got, want)
		}
	}
	assertFoldedExact(t, db, "clone")
}
