package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

func TestDB_RecordRun(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	now := time.Now().Truncate(time.Microsecond)
	run := func(finished time.Time, errText string) store.Run {
		return store.Run{Worker: "host-1", Command: "run", StartedAt: finished.Add(-time.Second), FinishedAt: finished,
			Claimed: 10, Synced: 5, Unchanged: 2, Requeued: 3, Failed: 1, Lost: 1, Rescued: 4,
			APIRequests: 11, APIRateLimited: 1, Error: errText}
	}
	old, mid, last := run(now.Add(-40*24*time.Hour), ""), run(now.Add(-10*24*time.Hour), "stopped"), run(now, "")

	// Without retention nothing is pruned.
	for _, r := range []store.Run{old, mid} {
		if pruned, err := db.RecordRun(ctx, r, 0); err != nil || pruned != 0 {
			t.Fatalf("RecordRun(keep 0) = %d, %v; want 0, nil", pruned, err)
		}
	}
	// With 30 days, the run that finished 40 days ago goes.
	pruned, err := db.RecordRun(ctx, last, 30*24*time.Hour)
	if err != nil || pruned != 1 {
		t.Fatalf("RecordRun(keep 30 days) = %d, %v; want 1, nil", pruned, err)
	}
	got, err := db.RecentRuns(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Run{last, mid}, got); diff != "" {
		t.Errorf("RecentRuns (-want +got):\n%s", diff)
	}
	var errNull bool
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT error IS NULL FROM sync_runs WHERE finished_at = $1`, now).Scan(&errNull); err != nil || !errNull {
		t.Errorf("a run without error stored error IS NULL = %v (%v), want true", errNull, err)
	}
}

func TestDB_RecordRun_DatabaseDown(t *testing.T) {
	db, err := store.Open(t.Context(), storetest.NewDatabase(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = db.RecordRun(t.Context(), store.Run{Worker: "w", Command: "once"}, time.Hour)
	if err == nil || !strings.HasPrefix(err.Error(), "record sync run: ") {
		t.Fatalf("RecordRun on a closed pool = %v, want an error saying what failed", err)
	}
}
