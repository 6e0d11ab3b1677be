package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storebench"
	"github.com/callsync/callsync/store/storetest"
)

// dailyViews maps each public daily view to the view that aggregates the
// base tables at query time.
var dailyViews = map[string]string{
	"daily_call_stats":        "daily_call_stats_live",
	"daily_action_outcomes":   "daily_action_outcomes_live",
	"daily_judgement_results": "daily_judgement_results_live",
}

// assertViewsExact fails t unless every daily view holds exactly the rows
// recomputed from the base tables (with the agent's name), whatever the
// rollups and their dirty keys hold.
func assertViewsExact(t *testing.T, db *store.DB, when string) {
	t.Helper()
	for view, live := range dailyViews {
		got := texts(t, db, `SELECT to_jsonb(v)::text FROM `+view+` v ORDER BY 1`)
		want := texts(t, db, `SELECT (to_jsonb(l) || jsonb_build_object('agent_name', a.name))::text
			FROM `+live+` l LEFT JOIN agents a ON a.model_id = l.model_id ORDER BY 1`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: %s differs from a live recomputation (-live +view):\n%s", when, view, diff)
		}
	}
}

// assertFoldedExact folds the rollups, then checks that nothing is left
// dirty and that the views, now read from the rollups alone, are exact.
func assertFoldedExact(t *testing.T, db *store.DB, when string) {
	t.Helper()
	assertViewsExact(t, db, when+", before the fold")
	if _, err := db.FoldRollups(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := dirtyKeys(t, db); n != 0 {
		t.Errorf("%s: %d dirty keys after the fold, want 0", when, n)
	}
	assertViewsExact(t, db, when+", after the fold")
}

func texts(t *testing.T, db *store.DB, sql string) []string {
	t.Helper()
	rows, err := storetest.PoolOf(db).Query(t.Context(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func dirtyKeys(t *testing.T, db *store.DB) int {
	t.Helper()
	st, err := db.RollupStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return st.Dirty
}

// rollupCall is fullCall started at noon UTC on March day of 2020 (long
// enough ago for any retention), by model (none when empty). Its payload
// hash changes with any argument.
func rollupCall(id, model string, day int, status string, duration int32) store.Call {
	c := fullCall(id)
	start := time.Date(2020, 3, day, 12, 0, 0, 0, time.UTC)
	c.StartedAt, c.Status, c.DurationSeconds, c.ModelID = &start, &status, &duration, nil
	if model != "" {
		c.ModelID = &model
	}
	c.Actions[1].ErrorMessage = new("timeout")
	c.PayloadHash = []byte(fmt.Sprint(id, model, day, status, duration))
	return c
}

// rollupFixture stores calls over three days and agents (one without an
// agent, one without a start) and folds them.
func rollupFixture(t *testing.T) *store.DB {
	t.Helper()
	db := testDB(t)
	if _, err := db.SaveAgents(t.Context(), []store.Agent{{ModelID: "m1", Name: new("Support")}}, true); err != nil {
		t.Fatal(err)
	}
	noStart := rollupCall("nostart", "m1", 1, "completed", 3)
	noStart.StartedAt = nil
	mustSave(t, db, rollupCall("a", "m1", 1, "completed", 60), rollupCall("b", "m1", 1, "failed", 10),
		rollupCall("c", "m2", 1, "busy", 0), rollupCall("d", "m2", 2, "completed", 90),
		rollupCall("e", "", 2, "no-answer", 5), rollupCall("f", "m1", 3, "left_voicemail", 30), noStart)
	if n := dirtyKeys(t, db); n != 5 {
		t.Errorf("dirty keys after a fresh sync = %d, want 5 (3 days × agents, the call without a start none)", n)
	}
	assertFoldedExact(t, db, "fresh sync")
	if n := one[int64](t, db, `SELECT count(*) FROM daily_call_stats_rollup`); n != 5 {
		t.Errorf("daily_call_stats_rollup has %d rows, want 5", n)
	}
	return db
}

func TestRollups_FreshSync(t *testing.T) {
	db := rollupFixture(t)
	got := query(t, db, `SELECT day, coalesce(model_id, '-'), coalesce(agent_name, '-'), calls, answered, reached_voicemail,
		utterances, human_utterances, variables_collected, median_duration_seconds FROM daily_call_stats ORDER BY 1, 2`)
	want := [][]string{
		{"2020-03-01", "m1", "Support", "2", "2", "0", "4", "2", "2", "35.0"},
		{"2020-03-01", "m2", "-", "1", "1", "0", "2", "1", "1", "0.0"},
		{"2020-03-02", "-", "-", "1", "1", "0", "2", "1", "1", "5.0"},
		{"2020-03-02", "m2", "-", "1", "1", "0", "2", "1", "1", "90.0"},
		{"2020-03-03", "m1", "Support", "1", "1", "1", "2", "1", "1", "30.0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily_call_stats from the rollups (-want +got):\n%s", diff)
	}
}

func TestRollups_UnchangedResyncMarksNothing(t *testing.T) {
	db := rollupFixture(t)
	mustSave(t, db, rollupCall("a", "m1", 1, "completed", 60), rollupCall("e", "", 2, "no-answer", 5))
	if n := dirtyKeys(t, db); n != 0 {
		t.Errorf("dirty keys after an unchanged re-sync = %d, want 0", n)
	}
}

func TestRollups_ChangedResync(t *testing.T) {
	db := rollupFixture(t)
	ctx := t.Context()
	// a moves to another day and agent, b to no agent, c changes status and
	// duration, d loses its actions' failure and gains a judgement, the call
	// without a start gets one.
	a := rollupCall("a", "m2", 3, "completed", 60)
	b := rollupCall("b", "m1", 1, "completed", 11)
	b.ModelID = nil // not sent: keeps m1
	c := rollupCall("c", "m2", 1, "completed", 400)
	c.Telephony.RingingDurationMS = new(int64(300))
	d := rollupCall("d", "m2", 2, "completed", 90)
	d.PayloadHash = []byte("d2")
	d.Actions = d.Actions[:1]
	d.Judgements = append(d.Judgements, store.Judgement{Criterion: "style", Result: new("false")})
	late := rollupCall("nostart", "m1", 2, "completed", 3)
	mustSave(t, db, a, b, c, d, late)
	assertFoldedExact(t, db, "re-sync by SaveCalls")

	// The statement-by-statement path: e gets an agent, f leaves day 3.
	e := rollupCall("e", "m1", 2, "completed", 7)
	f := rollupCall("f", "m1", 4, "left_voicemail", 30)
	for _, c := range []store.Call{e, f} {
		if err := storebench.SaveCallSlow(ctx, db, c); err != nil {
			t.Fatal(err)
		}
	}
	assertFoldedExact(t, db, "re-sync by SaveCallSlow")

	// Through the queue, as a pass writes.
	mustEnqueue(t, db, "a")
	lease := claimAll(t, db)
	back := rollupCall("a", "m1", 1, "busy", 1)
	mustComplete(t, db, lease.Token, []store.Outcome{{CallID: "a", Call: &back, State: store.StateDone}})
	assertFoldedExact(t, db, "re-sync by Complete")
}

func TestRollups_Erase(t *testing.T) {
	db := rollupFixture(t)
	if _, err := db.Forget(t.Context(), store.Erasure{CallIDs: []string{"a", "e", "never-stored"}}); err != nil {
		t.Fatal(err)
	}
	assertFoldedExact(t, db, "erasure")
	if n := one[int64](t, db, `SELECT count(*) FROM daily_call_stats WHERE model_id IS NULL`); n != 0 {
		t.Errorf("daily_call_stats keeps %d rows of the erased call without agent", n)
	}
}

// TestRollups_DeleteByHand deletes and truncates calls with SQL, as an
// operator might: the daily views drop them all the same.
func TestRollups_DeleteByHand(t *testing.T) {
	db := rollupFixture(t)
	if _, err := storetest.PoolOf(db).Exec(t.Context(), `DELETE FROM calls WHERE call_id IN ('a', 'e')`); err != nil {
		t.Fatal(err)
	}
	assertFoldedExact(t, db, "DELETE FROM calls")
	if _, err := storetest.PoolOf(db).Exec(t.Context(), `TRUNCATE calls`); err != nil {
		t.Fatal(err)
	}
	assertFoldedExact(t, db, "TRUNCATE calls")
	if n := one[int64](t, db, `SELECT count(*) FROM daily_call_stats`); n != 0 {
		t.Errorf("daily_call_stats keeps %d rows after TRUNCATE calls", n)
	}
}

func TestRollups_Prune(t *testing.T) {
	day := 24 * time.Hour
	for _, r := range []store.Retention{{Transcripts: day}, {Recordings: day}, {Variables: day}, {Calls: day}} {
		db := rollupFixture(t)
		if _, err := db.Prune(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		assertFoldedExact(t, db, "prune")
	}
}

// TestRollups_FoldDuringWrite folds while a write is in flight: its mark,
// not yet committed, is neither seen nor lost, and the views stay exact
// once it commits.
func TestRollups_FoldDuringWrite(t *testing.T) {
	db := rollupFixture(t)
	ctx := t.Context()
	tx, err := storetest.PoolOf(db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// What a writer does: the change and its mark, in one transaction.
	if _, err := tx.Exec(ctx, `UPDATE calls SET status = 'busy' WHERE call_id = 'd';
		INSERT INTO rollup_dirty (day, model_id) VALUES ('2020-03-02', 'm2')`); err != nil {
		t.Fatal(err)
	}
	mustSave(t, db, rollupCall("g", "m2", 2, "completed", 1)) // a write that commits before the fold
	if n, err := db.FoldRollups(ctx); err != nil || n != 1 {
		t.Fatalf("FoldRollups = %d, %v; want the 1 committed key", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dirtyKeys(t, db); n != 1 {
		t.Errorf("dirty keys after the late commit = %d, want 1", n)
	}
	assertFoldedExact(t, db, "write committed after a fold")
}

// TestRollups_ConcurrentWritersOfOneCall moves a call twice at once: the
// second writer waits for the first, then marks the key the first left it
// at, even when a fold runs in between.
func TestRollups_ConcurrentWritersOfOneCall(t *testing.T) {
	db := rollupFixture(t)
	ctx := t.Context()
	first, err := storetest.PoolOf(db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Rollback(context.WithoutCancel(ctx)) }()
	// The first writer moves a from day 1 to day 3 (m1 to m2).
	if _, err := first.Exec(ctx, `UPDATE calls SET started_at = '2020-03-03T12:00:00Z', model_id = 'm2' WHERE call_id = 'a';
		INSERT INTO rollup_dirty (day, model_id) VALUES ('2020-03-01', 'm1'), ('2020-03-03', 'm2')`); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := db.SaveCalls(ctx, []store.Call{rollupCall("a", "m1", 4, "completed", 60)})
		second <- err
	}()
	waitForLockWait(t, db)
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FoldRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	assertFoldedExact(t, db, "two writers of one call")
}

func TestRollups_ConcurrentFolds(t *testing.T) {
	db := rollupFixture(t)
	mustSave(t, db, rollupCall("a", "m2", 5, "completed", 60), rollupCall("h", "m3", 6, "busy", 2))
	var wg sync.WaitGroup
	folded := make([]int, 2)
	errs := make([]error, 2)
	for i := range folded {
		wg.Go(func() { folded[i], errs[i] = db.FoldRollups(t.Context()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// Between them they take the 3 keys (day 1 m1, day 5 m2, day 6 m3): one
	// folds, or each folds what the other left.
	if got := folded[0] + folded[1]; got != 3 {
		t.Errorf("folds took %v keys, want 3 between them", folded)
	}
	assertFoldedExact(t, db, "two folds at once")
}

// TestRollups_FoldGivesWay folds while another fold holds the lock: it
// folds nothing and leaves the marks.
func TestRollups_FoldGivesWay(t *testing.T) {
	db := rollupFixture(t)
	ctx := t.Context()
	mustSave(t, db, rollupCall("a", "m2", 5, "completed", 60))
	tx, err := storetest.PoolOf(db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(x'726f6c6c757073'::bigint)`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.FoldRollups(ctx); err != nil || n != 0 {
		t.Errorf("FoldRollups while another fold runs = %d, %v; want 0, nil", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dirtyKeys(t, db); n != 2 {
		t.Errorf("dirty keys = %d, want the 2 marks left", n)
	}
	assertFoldedExact(t, db, "fold after one that gave way")
}

// TestRollups_FoldInChunks folds more keys than one transaction takes.
func TestRollups_FoldInChunks(t *testing.T) {
	db := rollupFixture(t)
	var calls []store.Call
	for day := 1; day <= 28; day++ {
		calls = append(calls, rollupCall(fmt.Sprint("x", day), "m8", day, "completed", int32(day)),
			rollupCall(fmt.Sprint("y", day), "m9", day, "busy", 1))
	}
	mustSave(t, db, calls...)
	n, err := db.FoldRollups(t.Context())
	if err != nil || n != 56 {
		t.Errorf("FoldRollups = %d, %v; want 56 keys", n, err)
	}
	assertFoldedExact(t, db, "fold in chunks")
}

func TestRollups_Rebuild(t *testing.T) {
	db := rollupFixture(t)
	ctx := t.Context()
	mustExec(t, db, `UPDATE daily_call_stats_rollup SET calls = calls + 100; DELETE FROM daily_judgement_results_rollup`)
	mustSave(t, db, rollupCall("a", "m2", 5, "completed", 60))
	if err := db.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dirtyKeys(t, db); n != 0 {
		t.Errorf("dirty keys after a rebuild = %d, want 0", n)
	}
	assertViewsExact(t, db, "rebuild")
	st, err := db.RollupStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows["daily_call_stats_rollup"] != 6 || st.Rows["daily_judgement_results_rollup"] == 0 {
		t.Errorf("RollupStatus after a rebuild = %+v", st)
	}
}

func TestRollups_Errors(t *testing.T) {
	db := rollupFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.FoldRollups(ctx); err == nil {
		t.Error("FoldRollups with a cancelled context: no error")
	}
	if err := db.RebuildRollups(ctx); err == nil {
		t.Error("RebuildRollups with a cancelled context: no error")
	}
	if _, err := db.RollupStatus(ctx); err == nil {
		t.Error("RollupStatus with a cancelled context: no error")
	}
	// A failure after the marks were taken changes nothing: they stay.
	mustSave(t, db, rollupCall("a", "m2", 5, "completed", 60))
	mustExec(t, db, `ALTER TABLE daily_judgement_results_rollup ADD CONSTRAINT no_rows CHECK (false) NOT VALID`)
	if _, err := db.FoldRollups(t.Context()); err == nil {
		t.Fatal("FoldRollups into a table that refuses rows: no error")
	}
	if n := dirtyKeys(t, db); n != 2 {
		t.Errorf("dirty keys after a failed fold = %d, want 2", n)
	}
	if err := db.RebuildRollups(t.Context()); err == nil {
		t.Error("RebuildRollups into a table that refuses rows: no error")
	}
	assertViewsExact(t, db, "failed fold")
}

// TestRollups_LiveStatsAreCallFacts checks that daily_call_stats_live, which
// computes answered, talk time and voicemail per call itself, aggregates
// what call_facts says of each call.
func TestRollups_LiveStatsAreCallFacts(t *testing.T) {
	db := agentViewsFixture(t)
	got := texts(t, db, `SELECT to_jsonb(l)::text FROM daily_call_stats_live l ORDER BY 1`)
	want := texts(t, db, `SELECT to_jsonb(s)::text FROM (
		SELECT f.started_date_utc AS day, f.model_id, count(*) AS calls, count(*) FILTER (WHERE f.answered) AS answered,
		       count(*) FILTER (WHERE f.status = 'completed') AS completed, count(*) FILTER (WHERE f.status = 'failed') AS failed,
		       count(*) FILTER (WHERE f.status = 'no-answer') AS no_answer,
		       count(*) FILTER (WHERE f.status IN ('hangup_on_voicemail', 'left_voicemail')) AS voicemail,
		       count(*) FILTER (WHERE f.status = 'busy') AS busy,
		       round(count(*) FILTER (WHERE f.answered)::numeric / count(*), 4) AS answer_rate,
		       round(avg(f.duration_seconds), 1) AS avg_duration_seconds,
		       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY f.duration_seconds))::numeric, 1) AS median_duration_seconds,
		       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY f.duration_seconds))::numeric, 1) AS p90_duration_seconds,
		       round(coalesce(sum(f.talk_seconds), 0) / 60, 1) AS total_talk_minutes,
		       count(*) FILTER (WHERE f.voicemail) AS reached_voicemail, sum(f.utterances) AS utterances,
		       sum(f.agent_utterances) AS agent_utterances, sum(f.human_utterances) AS human_utterances,
		       sum(f.variables) AS variables, sum(f.variables_collected) AS variables_collected
		FROM call_facts f WHERE f.started_at IS NOT NULL GROUP BY 1, 2) s ORDER BY 1`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily_call_stats_live differs from an aggregate of call_facts (-call_facts +live):\n%s", diff)
	}
	if len(got) < 4 {
		t.Errorf("only %d rows compared", len(got))
	}
}
