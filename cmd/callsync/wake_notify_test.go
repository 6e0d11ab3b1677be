package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestRun_ReaderNotifyCostsNothing (issue 19.7): PostgreSQL lets any role
// that can connect NOTIFY any channel, callsync_reader included, and 40
// NOTIFYs once made 40 passes, each a sync_runs row and a rollup fold. A
// woken pass that finds nothing due now leaves no row, and woken passes
// start at most once a second; a call really queued still wakes the
// worker at once.
func TestRun_ReaderNotifyCostsNothing(t *testing.T) {
	rs := testRoles(t)
	calls := finalCalls(t, 29, 1)
	srv := fakeAPI(t, calls...)
	env := map[string]string{"DATABASE_URL": rs.dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNC_SCHEDULE": "@every 1h", "HTTP_ADDR": "127.0.0.1:0", "SYNTHFLOW_WEBHOOK_PATH": "off", "LOG_FORMAT": "json", "LOG_LEVEL": "debug"}
	_, logs := startRunLogged(t, env)
	waitFor(t, time.Minute, "the first pass recorded", func() bool {
		return count(t, rs.dbURL, `SELECT count(*) FROM sync_runs`) == 1
	})
	reader, err := pgx.Connect(t.Context(), asRole(t, rs.dbURL, rs.reader))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(t.Context())
	woken := func() int { return strings.Count(logs.String(), "calls queued; starting a pass") }
	start := time.Now()
	for woken() < 3 {
		if time.Since(start) > time.Minute {
			t.Fatal("NOTIFY from the reader never woke the worker: the test proves nothing")
		}
		for range 40 {
			if _, err := reader.Exec(t.Context(), `NOTIFY callsync_queue`); err != nil {
				t.Fatalf("NOTIFY as %s: %v", rs.reader, err)
			}
		}
	}
	elapsed := time.Since(start)
	if n := count(t, rs.dbURL, `SELECT count(*) FROM sync_runs`); n != 1 {
		t.Errorf("%d sync_runs rows after the reader's NOTIFYs, want the first pass's alone", n)
	}
	if n, limit := woken(), int(elapsed/wakeEvery)+2; n > limit {
		t.Errorf("%d woken passes in %v, want at most one a second", n, elapsed.Round(time.Millisecond))
	}
	if r := runCmd(t, env, "", "enqueue", calls[0].ID()); r.err != nil {
		t.Fatalf("enqueue: %v", r.err)
	}
	waitFor(t, time.Minute, "the queued call stored (woken: the schedule is an hour)", func() bool {
		return count(t, rs.dbURL, `SELECT count(*) FROM calls`) == 1
	})
	if n := count(t, rs.dbURL, `SELECT count(*) FROM sync_runs WHERE claimed = 1`); n != 1 {
		t.Errorf("%d passes recorded the queued call, want 1", n)
	}
}
