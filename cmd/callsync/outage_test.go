package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storetest"
)

// ownServer starts a throwaway PostgreSQL server that the test may stop and
// restart, creates a database on it migrated to the current schema, and
// returns the server and the database's URL. The server is removed when t
// ends.
func ownServer(t testing.TB) (*pgserver.Server, string) {
	t.Helper()
	storetest.Parallel(t) // its own server: it waits on that, not on the others
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Fast: true})
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	admin, err := store.Open(ctx, srv.URL("postgres"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := storetest.PoolOf(admin).Exec(ctx, `CREATE DATABASE warehouse`); err != nil {
		t.Fatal(err)
	}
	dbURL := srv.URL("warehouse")
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return srv, dbURL
}

// outageWorker is a worker environment on a database the test owns, with
// n calls queued and a fake API that takes latency per call.
func outageWorker(t *testing.T, n int, latency time.Duration) (*pgserver.Server, *slowWorker) {
	t.Helper()
	pg, dbURL := ownServer(t)
	calls := finalCalls(t, 41, n)
	srv := fakeAPI(t, calls...)
	srv.SetFaults(apitest.Faults{LatencyMin: latency})
	w := &slowWorker{dbURL: dbURL, srv: srv, calls: calls}
	w.env = map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "0", "SYNC_CONCURRENCY": "4", "SYNC_BATCH_SIZE": "8", "SYNC_LEASE": "10s"}
	if r := runCmd(t, w.env, "", append([]string{"enqueue"}, callIDs(calls)...)...); r.err != nil {
		t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
	}
	return pg, w
}

// checkConsistent fails t unless the stored calls are exactly those whose
// queue row is done, each written whole.
func checkConsistent(t *testing.T, w *slowWorker) {
	t.Helper()
	pool := mustPool(t, w.dbURL)
	got := storedRows(t, pool)
	checkComplete(t, expect(t, w.calls), got, false)
	rows, err := pool.Query(t.Context(), `SELECT call_id FROM sync_queue WHERE state = 'done'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	done := 0
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		done++
		if _, ok := got.hash[id]; !ok {
			t.Errorf("call %s is done but not stored", id)
		}
	}
	if done != len(got.hash) {
		t.Errorf("%d calls stored, %d queue rows done: a call was written without its queue row", len(got.hash), done)
	}
}

// TestOutage_OnceLosesDatabase stops PostgreSQL in the middle of a pass,
// while a batch is half-way through its write: once exits non-zero with an
// error saying the database connection was lost, every call stored is
// whole and has its queue row settled, and after the restart the next pass
// syncs the rest.
func TestOutage_OnceLosesDatabase(t *testing.T) {
	t.Parallel()
	pg, w := outageWorker(t, 60, 150*time.Millisecond)
	pool := mustPool(t, w.dbURL)
	p := startProc(t, w.env, "once")
	waitFor(t, time.Minute, "a first batch stored", func() bool {
		if p.exited() {
			t.Fatalf("once exited before the outage (%d):\n%s", p.code, p.out)
		}
		return queueCounts(t, pool)["done"] >= 8
	})
	// Hold the next batch's write half-way: its transaction has settled
	// queue rows and written calls when it waits for transcript_lines.
	lock, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(context.WithoutCancel(t.Context())) }() // fails: the server is gone by then
	if _, err := lock.Exec(t.Context(), `LOCK TABLE transcript_lines IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "a write waiting half-way", func() bool {
		if p.exited() {
			t.Fatalf("once exited before the outage (%d):\n%s", p.code, p.out)
		}
		return count(t, w.dbURL, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'callsync' AND wait_event_type = 'Lock'`) > 0
	})
	pool.Reset() // its connections die with the server
	if err := pg.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, time.Minute)
	out := p.out.String()
	if code != 1 || !strings.Contains(out, "sync pass failed") {
		t.Fatalf("once exited %d after losing the database, want 1 and a failed pass:\n%s", code, out)
	}
	last := out[strings.LastIndex(strings.TrimRight(out, "\n"), "\n")+1:]
	if !strings.HasPrefix(last, "callsync: ") || !strings.Contains(last, "connect") {
		t.Errorf("last line %q does not say the database could not be reached", last)
	}
	if err := pg.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	counts := queueCounts(t, pool)
	if counts["done"] >= len(w.calls) {
		t.Fatalf("queue = %v: the outage came after the pass", counts)
	}
	checkConsistent(t, w)

	// The rows the dead pass held come back when their lease ends (moved
	// into the past here); the next pass syncs everything.
	if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET locked_until = now() - interval '1 second' WHERE state = 'running'`); err != nil {
		t.Fatal(err)
	}
	w.srv.SetFaults(apitest.Faults{})
	if out, code := execCmd(t, t.Context(), w.env, "once"); code != 0 {
		t.Fatalf("once after the restart: exit %d\n%s", code, out)
	}
	if counts := queueCounts(t, pool); counts["done"] != len(w.calls) {
		t.Fatalf("queue = %v, want all %d done", counts, len(w.calls))
	}
	checkComplete(t, expect(t, w.calls), storedRows(t, pool), true)
}

// TestOutage_RunRecovers stops PostgreSQL under `run`: passes fail with a
// clear error while it is down, the process keeps its schedule, and once
// the server is back it syncs everything by itself, the dead pass's rows
// included when their lease ends.
func TestOutage_RunRecovers(t *testing.T) {
	t.Parallel()
	pg, w := outageWorker(t, 60, 150*time.Millisecond)
	pool := mustPool(t, w.dbURL)
	p := startProc(t, w.env, "run", "--schedule", "@every 1s")
	waitFor(t, time.Minute, "a first batch stored", func() bool {
		if p.exited() {
			t.Fatalf("run exited before the outage (%d):\n%s", p.code, p.out)
		}
		return queueCounts(t, pool)["done"] >= 8
	})
	pool.Reset()
	if err := pg.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "two passes to fail", func() bool {
		return strings.Count(p.out.String(), "sync pass failed") >= 2
	})
	if p.exited() {
		t.Fatalf("run exited when the database went away (%d):\n%s", p.code, p.out)
	}
	if err := pg.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, w)
	waitFor(t, 2*time.Minute, "every call done after the restart", func() bool {
		if p.exited() {
			t.Fatalf("run exited (%d):\n%s", p.code, p.out)
		}
		return queueCounts(t, pool)["done"] == len(w.calls)
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Errorf("run exited %d after SIGTERM:\n%s", code, p.out)
	}
	checkComplete(t, expect(t, w.calls), storedRows(t, pool), true)
	out := p.out.String()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "sync pass failed") && !strings.Contains(line, "connect") && !strings.Contains(line, "connection") {
			t.Errorf("a failed pass does not say the database is unreachable: %s", line)
		}
	}
}
