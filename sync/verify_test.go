package sync_test

import (
	"errors"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// TestVerifier_FindsAndRepairsGaps backfills 4 days, then opens gaps on
// both sides: calls missing from the warehouse, a call the API gained and
// a call the API lost. Verify finds the three days; Repair fixes the two
// it can.
func TestVerifier_FindsAndRepairsGaps(t *testing.T) {
	from := genTo.AddDate(0, 0, -4)
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 41, Calls: 400, Models: 2, From: from, To: genTo}))
	windows := in.windows(from, genTo, 24*time.Hour)
	b := in.backfiller(genTo.Add(time.Hour))
	ctx := t.Context()
	if _, err := b.Run(ctx, windows, callsync.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	m0 := in.srv.Models()[0]
	day := func(d int) (time.Time, time.Time) { return from.AddDate(0, 0, d), from.AddDate(0, 0, d+1) }
	d0, d1 := day(0)
	tag, err := storetest.PoolOf(in.db).Exec(ctx, `DELETE FROM calls WHERE call_id IN (SELECT call_id FROM calls
		WHERE model_id = $1 AND started_at >= $2 AND started_at < $3 ORDER BY call_id LIMIT 5)`, m0, d0, d1)
	if err != nil || tag.RowsAffected() != 5 {
		t.Fatalf("delete: %v, %v", tag, err)
	}
	d2, _ := day(2)
	var lost apitest.Call
	for _, c := range in.srv.Calls() {
		if c.ModelID() == m0 && !c.Start().Before(genTo.AddDate(0, 0, -1)) {
			lost = c
			break
		}
	}
	in.srv.Add(liveCall(t, lost, "arrived-late", d2.Add(time.Hour), "completed"))
	in.srv.Remove(lost.ID())

	var progress []callsync.BackfillProgress
	v := &callsync.Verifier{API: in.client, Store: in.db, Config: fastRetry,
		Progress: func(p callsync.BackfillProgress) { progress = append(progress, p) }}
	rep, err := v.Verify(ctx, windows)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Windows != 8 || rep.Requests != 8 || len(rep.Diffs) != 3 {
		t.Fatalf("report = %+v, want 8 windows in 8 requests, 3 differing", rep)
	}
	if len(progress) != 8 || progress[7].Done != 8 || progress[7].Windows != 8 || progress[7].Requests != 8 {
		t.Fatalf("progress = %+v, want one call per window, ending at 8 of 8", progress)
	}
	want := []struct {
		day     int
		diff    int
		fixable bool
	}{{0, -5, true}, {2, -1, true}, {3, +1, false}}
	for i, d := range rep.Diffs {
		w := want[i]
		f, _ := day(w.day)
		if !d.From.Equal(f) || d.Warehouse-d.API != w.diff || d.Fixable() != w.fixable || d.ModelID != m0 {
			t.Errorf("diff %d = %+v, want day %d, warehouse-api %+d", i, d, w.day, w.diff)
		}
	}
	in.srv.Counters().Reset()
	brep, err := b.Repair(ctx, rep.Diffs, callsync.BackfillOptions{})
	if err != nil || brep.Windows != 2 || brep.Skipped != 0 {
		t.Fatalf("repair: %+v, %v; want the 2 fixable windows read again", brep, err)
	}
	after, err := v.Verify(ctx, windows)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Diffs) != 1 || after.Diffs[0].Fixable() {
		t.Fatalf("after repair: %+v, want only the lost call's day", after.Diffs)
	}
}

func TestVerifier_Unauthorized(t *testing.T) {
	in := newIntake(t, smallSet())
	in.srv.SetAPIKey("other")
	v := &callsync.Verifier{API: in.client, Store: in.db, Config: fastRetry}
	if _, err := v.Verify(t.Context(), in.windows(genFrom, genTo, 24*time.Hour)); !errors.Is(err, callsync.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
}
