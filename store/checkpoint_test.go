package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

func TestDB_Checkpoints(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cp := func(model string, d int) store.Checkpoint {
		return store.Checkpoint{ModelID: model, From: day.AddDate(0, 0, d), To: day.AddDate(0, 0, d+1)}
	}
	a := cp("m1", 0)
	a.NextOffset, a.Total = 200, new(350)
	b := cp("m1", 1)
	b.Done, b.Total, b.Landed, b.Scans = true, new(0), new(0), 1
	for _, c := range []store.Checkpoint{a, b, cp("m2", 0), cp("m1", 5)} {
		if err := db.SaveCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Checkpoints(ctx, "m1", day, day.AddDate(0, 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Checkpoint{a, b}, got); diff != "" {
		t.Fatalf("checkpoints (-want +got):\n%s", diff)
	}

	a.NextOffset, a.Done, a.Landed, a.Scans = 0, true, new(351), 2
	if err := db.SaveCheckpoint(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err = db.Checkpoints(ctx, "m1", day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Checkpoint{a}, got); diff != "" {
		t.Fatalf("after update (-want +got):\n%s", diff)
	}
}

func TestDB_Watermark(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.Watermark(ctx, "m1"); err != store.ErrNotFound {
		t.Fatalf("never polled: err = %v, want ErrNotFound", err)
	}
	t1 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		set, want time.Time
	}{
		{t1, t1},
		{t1.Add(time.Hour), t1.Add(time.Hour)},
		{t1, t1.Add(time.Hour)}, // never moves back
	} {
		got, err := db.AdvanceWatermark(ctx, "m1", c.set)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(c.want) {
			t.Fatalf("AdvanceWatermark(%v) = %v, want %v", c.set, got, c.want)
		}
		if got, err := db.Watermark(ctx, "m1"); err != nil || !got.Equal(c.want) {
			t.Fatalf("Watermark = %v, %v; want %v", got, err, c.want)
		}
	}
	if _, err := db.Watermark(ctx, "m2"); err != store.ErrNotFound {
		t.Fatalf("other model: err = %v, want ErrNotFound", err)
	}
}

func TestDB_CountCalls(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var calls []store.Call
	for i, at := range []time.Time{day, day.Add(23 * time.Hour), day.AddDate(0, 0, 1), day.AddDate(0, 0, 3)} {
		c := fullCall("c" + string(rune('a'+i)))
		c.StartedAt = &at
		calls = append(calls, c)
	}
	other := fullCall("other")
	other.ModelID = new("m2")
	noStart := fullCall("nostart")
	noStart.StartedAt = nil
	if _, err := db.SaveCalls(ctx, append(calls, other, noStart)); err != nil {
		t.Fatal(err)
	}
	ranges := []store.Range{
		{From: day, To: day.AddDate(0, 0, 1)},
		{From: day.AddDate(0, 0, 1), To: day.AddDate(0, 0, 2)},
		{From: day.AddDate(0, 0, 2), To: day.AddDate(0, 0, 3)},
		{From: day, To: day.AddDate(0, 0, 4)},
	}
	got, err := db.CountCalls(ctx, "m1", ranges)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 1, 0, 4}, got); diff != "" {
		t.Fatalf("counts (-want +got):\n%s", diff)
	}
	if got, err := db.CountCalls(ctx, "m1", nil); err != nil || got != nil {
		t.Fatalf("no ranges: %v, %v", got, err)
	}
}

func TestDB_EnqueueNew(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.Enqueue(ctx, []string{"done1", "pend1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET state = 'done' WHERE call_id = 'done1'`); err != nil {
		t.Fatal(err)
	}
	added, err := db.EnqueueNew(ctx, []string{"done1", "pend1", "new1", "new1", "new2"})
	if err != nil {
		t.Fatal(err)
	}
	if added != 2 {
		t.Fatalf("added = %d, want 2", added)
	}
	if r := readRow(t, db, "done1"); r.State != store.StateDone {
		t.Fatalf("done1 state = %s, want it left done", r.State)
	}
	if r := readRow(t, db, "new2"); r.State != store.StatePending || !r.Due {
		t.Fatalf("new2 = %+v, want pending and due", r)
	}
	if n, err := db.EnqueueNew(ctx, nil); err != nil || n != 0 {
		t.Fatalf("nothing: %d, %v", n, err)
	}
}
