package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

func testDB(t *testing.T) *store.DB {
	t.Helper()
	return store.New(storetest.Pool(t))
}

type queueRow struct {
	State    store.State
	Attempts int
	Polls    int
	Requeue  bool
	Due      bool
	Error    *string
}

func readRow(t *testing.T, db *store.DB, id string) queueRow {
	t.Helper()
	var r queueRow
	err := storetest.PoolOf(db).QueryRow(t.Context(), `SELECT state, attempts, polls, requeue, next_attempt_at <= now(), last_error
		FROM sync_queue WHERE call_id = $1`, id).Scan(&r.State, &r.Attempts, &r.Polls, &r.Requeue, &r.Due, &r.Error)
	if err != nil {
		t.Fatalf("read queue row %s: %v", id, err)
	}
	return r
}

func claimAll(t *testing.T, db *store.DB) store.Lease {
	t.Helper()
	l, err := db.Claim(t.Context(), 1000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mustEnqueue enqueues ids and fails the test if that fails.
func mustEnqueue(t *testing.T, db *store.DB, ids ...string) {
	t.Helper()
	if _, err := db.Enqueue(t.Context(), ids); err != nil {
		t.Fatal(err)
	}
}

// mustComplete completes a lease and fails the test if that fails.
func mustComplete(t *testing.T, db *store.DB, token int64, outcomes []store.Outcome) store.CompleteResult {
	t.Helper()
	res, err := db.Complete(t.Context(), token, outcomes)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mustExec runs a statement that sets up a test and fails the test if it fails.
func mustExec(t *testing.T, db *store.DB, sql string, args ...any) {
	t.Helper()
	if _, err := storetest.PoolOf(db).Exec(t.Context(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func ids(l store.Lease) []string {
	var out []string
	for _, r := range l.Rows {
		out = append(out, r.CallID)
	}
	slices.Sort(out)
	return out
}

func TestDB_Enqueue(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	res, err := db.Enqueue(ctx, []string{"a", "b", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Requeued != 0 {
		t.Fatalf("Enqueue = %+v, want 2 added", res)
	}
	res, err = db.Enqueue(ctx, []string{"b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Requeued != 1 {
		t.Fatalf("Enqueue = %+v, want 1 added, 1 requeued", res)
	}
}

func TestDB_Enqueue_DoneAndFailedBecomePending(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "done", "failed")
	l := claimAll(t, db)
	if _, err := db.Complete(ctx, l.Token, []store.Outcome{
		{CallID: "done", State: store.StateDone, Poll: true},
		{CallID: "failed", State: store.StateFailed, Attempt: true, Error: "boom"},
	}); err != nil {
		t.Fatal(err)
	}
	if got := readRow(t, db, "failed"); got.State != "failed" || got.Attempts != 1 || *got.Error != "boom" {
		t.Fatalf("failed row = %+v", got)
	}
	if _, err := db.Enqueue(ctx, []string{"done", "failed"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"done", "failed"} {
		if got := readRow(t, db, id); got.State != "pending" || got.Attempts != 0 || got.Polls != 0 || !got.Due {
			t.Errorf("%s after enqueue = %+v, want pending, due, counters reset", id, got)
		}
	}
}

func TestDB_Enqueue_WhileRunning(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "a")
	l := claimAll(t, db)
	mustEnqueue(t, db, "a")
	if got := readRow(t, db, "a"); got.State != "running" || !got.Requeue {
		t.Fatalf("row = %+v, want running with requeue", got)
	}
	if _, err := db.Complete(ctx, l.Token, []store.Outcome{{CallID: "a", State: store.StateDone}}); err != nil {
		t.Fatal(err)
	}
	if got := readRow(t, db, "a"); got.State != "pending" || !got.Due || got.Requeue {
		t.Fatalf("row = %+v, want pending and due after completion", got)
	}
}

func TestDB_Claim(t *testing.T) {
	db := testDB(t)
	mustEnqueue(t, db, "a", "b", "c")
	// b is retried later: not due.
	l := claimAll(t, db)
	mustComplete(t, db, l.Token, []store.Outcome{
		{CallID: "a", State: store.StatePending},
		{CallID: "b", State: store.StatePending, Delay: time.Hour},
		{CallID: "c", State: store.StateDone},
	})
	l = claimAll(t, db)
	if got := ids(l); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("claimed %v, want [a]", got)
	}
	if l2 := claimAll(t, db); len(l2.Rows) != 0 {
		t.Fatalf("claimed %v again while leased", ids(l2))
	}
}

func TestDB_Claim_Concurrent(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	var all []string
	for i := range 500 {
		all = append(all, "call-"+string(rune('a'+i%26))+time.Duration(i).String())
	}
	mustEnqueue(t, db, all...)
	type result struct {
		ids []string
		err error
	}
	results := make(chan result, 4)
	for range 4 {
		go func() {
			var got []string
			for {
				l, err := db.Claim(ctx, 7, time.Minute)
				if err != nil || len(l.Rows) == 0 {
					results <- result{got, err}
					return
				}
				got = append(got, ids(l)...)
			}
		}()
	}
	seen := map[string]int{}
	for range 4 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		for _, id := range r.ids {
			seen[id]++
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("claimed %d distinct rows, want %d", len(seen), len(all))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
}

func TestDB_RescueExpiredAndLostLease(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "a")
	old, err := db.Claim(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.RescueExpired(ctx, 8); err != nil || n != 0 {
		t.Fatalf("RescueExpired = %d, %v; want 0 with a live lease", n, err)
	}
	expire(t, db)
	if n, err := db.RescueExpired(ctx, 8); err != nil || n != 1 {
		t.Fatalf("RescueExpired = %d, %v; want 1", n, err)
	}
	fresh := claimAll(t, db)
	// The first worker comes back: its completion must not apply.
	res, err := db.Complete(ctx, old.Token, []store.Outcome{{CallID: "a", State: store.StateDone,
		Call: &store.Call{ID: "a", Raw: []byte(`{}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Lost, []string{"a"}) {
		t.Fatalf("lost = %v, want [a]", res.Lost)
	}
	var n int
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT count(*) FROM calls`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the stale worker wrote %d calls", n)
	}
	if got := readRow(t, db, "a"); got.State != "running" {
		t.Fatalf("row = %+v, want still running for the new holder", got)
	}
	if res, err := db.Complete(ctx, fresh.Token, []store.Outcome{{CallID: "a", State: store.StateDone}}); err != nil || len(res.Lost) != 0 {
		t.Fatalf("Complete by the holder = %v, %v", res, err)
	}
}

func expire(t *testing.T, db *store.DB) {
	t.Helper()
	if _, err := storetest.PoolOf(db).Exec(context.Background(), `UPDATE sync_queue SET locked_until = now() - interval '1 second' WHERE state = 'running'`); err != nil {
		t.Fatal(err)
	}
}

func TestDB_Release(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "a", "b")
	l := claimAll(t, db)
	if err := db.Release(ctx, l.Token, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if got := readRow(t, db, id); got.State != "pending" || got.Attempts != 0 || !got.Due {
			t.Errorf("%s = %+v, want pending, due, no attempt", id, got)
		}
	}
	// A wrong token releases nothing.
	l = claimAll(t, db)
	if err := db.Release(ctx, l.Token+1, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if got := readRow(t, db, "a"); got.State != "running" {
		t.Errorf("a = %+v, want running", got)
	}
}

func TestDB_Status(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "a", "b", "c", "d")
	l := claimAll(t, db)
	mustComplete(t, db, l.Token, []store.Outcome{
		{CallID: "a", State: store.StateFailed, Error: "HTTP 404"},
		{CallID: "b", State: store.StateFailed, Error: "HTTP 404"},
		{CallID: "c", State: store.StateFailed, Error: "bad body"},
		{CallID: "d", State: store.StatePending},
	})
	st, err := db.Status(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts["failed"] != 3 || st.Counts["pending"] != 1 || st.Due != 1 || st.OldestDue.IsZero() {
		t.Fatalf("Status = %+v", st)
	}
	if len(st.Failures) != 2 || st.Failures[0].Error != "HTTP 404" || st.Failures[0].Count != 2 || st.Failures[0].Example != "a" {
		t.Fatalf("Failures = %+v", st.Failures)
	}
}

func TestDB_RetryFailed(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "a", "b", "c", "d")
	l := claimAll(t, db)
	mustComplete(t, db, l.Token, []store.Outcome{
		{CallID: "a", State: store.StateFailed, Attempt: true, Error: "get call a: HTTP 503 Service Unavailable"},
		{CallID: "b", State: store.StateFailed, Attempt: true, Error: "get call b: HTTP 404 Not Found"},
		{CallID: "c", State: store.StateFailed, Attempt: true, Error: "get call c: HTTP 503 Service Unavailable", BadBody: []byte("x")},
		{CallID: "d", State: store.StateDone},
	})
	mustExec(t, db, `UPDATE sync_queue SET updated_at = now() - interval '2 days' WHERE call_id = 'c'`)
	n, err := db.RetryFailed(ctx, "http 503", 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("RetryFailed(503, 24h) = %d, %v; want 1 (c failed too long ago)", n, err)
	}
	if got := readRow(t, db, "a"); got.State != "pending" || got.Attempts != 0 || !got.Due {
		t.Errorf("a = %+v, want pending, due, attempts reset", got)
	}
	n, err = db.RetryFailed(ctx, "", 0)
	if err != nil || n != 2 {
		t.Fatalf("RetryFailed(all) = %d, %v; want 2", n, err)
	}
	if got := readRow(t, db, "d"); got.State != "done" {
		t.Errorf("d = %+v, want done left alone", got)
	}
}

// Each row is settled with its own outcome, whatever it holds: an error
// that is not valid UTF-8 or holds NUL is kept as text, and an
// undecodable body over its cap is not kept (the caller cuts bodies where
// it knows the secrets a cut could split; see api.Redactor.CutBytes).
func TestDB_Complete_EachRowItsOwnOutcome(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "a", "b", "c")
	l := claimAll(t, db)
	body := []byte(strings.Repeat("<", 70<<10))
	mustComplete(t, db, l.Token, []store.Outcome{
		{CallID: "a", State: store.StatePending, Attempt: true, Delay: time.Hour, Error: "bad \x00body \xff!", BadBody: body},
		{CallID: "b", State: store.StatePending, Poll: true, Delay: 2 * time.Hour},
		{CallID: "c", State: store.StateDone},
	})
	type row struct {
		State          string
		Attempts, Poll int
		Delay          time.Duration
		Error          *string
		Body           int
	}
	got := map[string]row{}
	rows, err := storetest.PoolOf(db).Query(ctx, `SELECT call_id, state, attempts, polls,
		date_trunc('minute', next_attempt_at - now() + interval '30 seconds'), last_error, coalesce(length(last_bad_body), -1)
		FROM sync_queue`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.State, &r.Attempts, &r.Poll, &r.Delay, &r.Error, &r.Body); err != nil {
			t.Fatal(err)
		}
		got[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	msg := "bad body \uFFFD!"
	want := map[string]row{
		"a": {State: "pending", Attempts: 1, Delay: time.Hour, Error: &msg, Body: -1},
		"b": {State: "pending", Poll: 1, Delay: 2 * time.Hour, Body: -1},
		"c": {State: "done", Body: -1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("settled rows (-want +got):\n%s", diff)
	}
}

// TestDB_RescueCountsLostAttempt: a call whose worker dies with it counts
// an attempt each time, ends failed at the maximum, and the rows claimed
// with it are claimed alone afterwards, each settling on its own.
func TestDB_RescueCountsLostAttempt(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.Enqueue(ctx, []string{"poison", "ok1", "ok2"}); err != nil {
		t.Fatal(err)
	}
	const max = 3
	for try := 1; try <= max; try++ {
		lease := claimAll(t, db)
		if try == 1 && len(lease.Rows) != 3 {
			t.Fatalf("first claim took %v, want all three", ids(lease))
		}
		if try > 1 && (len(lease.Rows) != 1 || lease.Rows[0].CallID != "poison" || !lease.Rows[0].Suspect) {
			t.Fatalf("claim %d took %+v, want the suspect poison alone", try, lease.Rows)
		}
		expire(t, db) // the worker died holding the lease
		if n, err := db.RescueExpired(ctx, max); err != nil || n != len(lease.Rows) {
			t.Fatalf("RescueExpired = %d, %v; want %d", n, err, len(lease.Rows))
		}
		if try == 1 {
			// The innocent rows are suspects too, each claimed alone; they settle.
			for range 2 {
				l := claimAll(t, db)
				if len(l.Rows) != 1 || l.Rows[0].CallID == "poison" && len(l.Rows) > 1 {
					t.Fatalf("suspect claim took %v, want one row", ids(l))
				}
				if l.Rows[0].CallID == "poison" { // put it back for the loop, as if not yet fetched
					if err := db.Release(ctx, l.Token, ids(l)); err != nil {
						t.Fatal(err)
					}
					l = claimAll(t, db)
				}
				if _, err := db.Complete(ctx, l.Token, []store.Outcome{{CallID: l.Rows[0].CallID, State: store.StateDone}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	got := readRow(t, db, "poison")
	if got.State != store.StateFailed || got.Attempts != max || got.Error == nil {
		t.Fatalf("poison row = %+v, want failed after %d attempts with a reason", got, max)
	}
	for _, id := range []string{"ok1", "ok2"} {
		if got := readRow(t, db, id); got.State != store.StateDone || got.Attempts != 1 {
			t.Fatalf("%s = %+v, want done with the one lost attempt", id, got)
		}
	}
	var suspect bool
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT suspect FROM sync_queue WHERE call_id = 'ok1'`).Scan(&suspect); err != nil {
		t.Fatal(err)
	}
	if suspect {
		t.Fatal("a settled row is still suspect")
	}
}
