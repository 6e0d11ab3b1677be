package main

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store/storetest"
)

// writerCalls is how many calls TestWriters_BackfillBesideWorkers writes:
// enough that every command has the others' calls in flight while it writes.
const writerCalls = 600

// TestWriters_BackfillBesideWorkers queues every call, then runs two
// backfills (four windows at once each) and two workers with different
// batch sizes together over the same calls, as the README says they may
// run: every command succeeds, no lease is left behind, and the warehouse
// is the one the same commands write one after another.
func TestWriters_BackfillBesideWorkers(t *testing.T) {
	calls := finalCalls(t, 19, writerCalls)
	srv := fakeAPI(t, calls...)
	ids := strings.Join(callIDs(calls), "\n")
	m0 := srv.Models()
	backfill := []string{"backfill", "--model-id", strings.Join(m0, ","), "--from", "2026-05-02", "--to", "2026-06-01",
		"--windows-at-once", "4"}

	together := intakeEnv(t, srv)
	if r := runCmd(t, together, ids, "enqueue", "-"); r.err != nil {
		t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
	}
	commands := [][]string{backfill, {"once", "--batch-size", "50"}, backfill, {"once", "--batch-size", "37"}}
	results := make([]result, len(commands))
	var wg sync.WaitGroup
	for i, args := range commands {
		wg.Go(func() { results[i] = runCmd(t, together, "", args...) })
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || strings.Contains(r.stderr, "ERR") {
			t.Errorf("%v: %v\n%s", commands[i], r.err, lastBytes(r.stderr, 2000))
		}
	}
	db := together["DATABASE_URL"]
	if n := count(t, db, `SELECT count(*) FROM sync_queue WHERE state <> 'done' OR lease_token IS NOT NULL OR attempts > 1`); n != 0 {
		t.Errorf("%d queue rows not done in one attempt (left running, leased, or failed)", n)
	}
	if n := count(t, db, `SELECT count(*) FROM sync_runs WHERE error IS NOT NULL`); n != 0 {
		t.Errorf("%d failed passes", n)
	}

	alone := intakeEnv(t, srv)
	for _, step := range []struct {
		stdin string
		args  []string
	}{{ids, []string{"enqueue", "-"}}, {"", []string{"once"}}, {"", backfill}} {
		if r := runCmd(t, alone, step.stdin, step.args...); r.err != nil {
			t.Fatalf("%v alone: %v\n%s", step.args, r.err, r.stderr)
		}
	}
	// Which writer came last decides the payload hash and the sync times.
	ignore := []string{"synced_at", "first_synced_at", "payload_hash"}
	want := storetest.Snapshot(t, mustPool(t, alone["DATABASE_URL"]), storetest.DataTables, ignore...)
	got := storetest.Snapshot(t, mustPool(t, db), storetest.DataTables, ignore...)
	if n := len(want["calls"]); n != writerCalls {
		t.Fatalf("%d calls stored by the commands alone, want %d", n, writerCalls)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warehouse written together differs from the one written alone (-alone +together):\n%s", lastBytes(diff, 4000))
	}
}
