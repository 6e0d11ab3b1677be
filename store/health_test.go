package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

func TestDB_Health(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	h, err := db.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Pending+h.Running+h.Done+h.Failed != 0 || !h.OldestDueAt.IsZero() || h.OldestDueAge != 0 ||
		!h.LastSuccessAt.IsZero() || !h.APIPausedUntil.IsZero() || h.CheckedAt.IsZero() {
		t.Errorf("Health of an empty database = %+v", h)
	}

	due := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	paused := time.Now().Add(time.Hour).Truncate(time.Second)
	finished := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	for _, sql := range []string{
		`INSERT INTO sync_queue (call_id, state, next_attempt_at) VALUES ('a', 'pending', '2026-01-01Z'), ('b', 'done', now())`,
		`INSERT INTO api_limits (key, tokens, paused_until) VALUES ('k', 0, '` + paused.Format(time.RFC3339) + `')`,
	} {
		if _, err := storetest.PoolOf(db).Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RecordRun(ctx, store.Run{Worker: "w", Command: "once", StartedAt: finished, FinishedAt: finished}, 0); err != nil {
		t.Fatal(err)
	}
	h, err = db.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Pending != 1 || h.Done != 1 || h.Due != 1 || !h.OldestDueAt.Equal(due) {
		t.Errorf("Health queue = %+v, want 1 pending due since %v and 1 done", h, due)
	}
	if want := h.CheckedAt.Sub(due).Round(time.Second); h.OldestDueAge != want {
		t.Errorf("OldestDueAge = %v, want checked_at - oldest_due_at = %v", h.OldestDueAge, want)
	}
	if !h.LastSuccessAt.Equal(finished) || !h.LastPassAt.Equal(finished) || !h.APIPausedUntil.Equal(paused) {
		t.Errorf("Health = %+v, want last pass %v and pause until %v", h, finished, paused)
	}
}

func TestDB_Ready(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready on a migrated database: %v", err)
	}
	if err := db.MigrateDown(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(ctx); !errors.Is(err, store.ErrMigrationsPending) {
		t.Fatalf("Ready after a rollback = %v, want ErrMigrationsPending", err)
	}
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready after migrating again: %v", err)
	}

	closed, err := store.Open(ctx, storetest.NewDatabase(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := closed.Ready(ctx); err == nil || !strings.Contains(err.Error(), "database unreachable") {
		t.Fatalf("Ready on a closed pool = %v, want database unreachable", err)
	}
}
