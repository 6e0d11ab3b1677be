package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storebench"
	"github.com/callsync/callsync/store/storetest"
)

// hookSet is a webhook's judgements: goal partial, answered_by_human false.
func hookSet() ([]store.Judgement, *string) {
	return []store.Judgement{
		{Criterion: "answered_by_human", Result: new("false"), Value: new("false"), Feedback: new("voicemail")},
		{Criterion: "goal", Result: new("true"), Value: new("True"), Feedback: new("")},
		{Criterion: "all", Feedback: new("voicemail")},
	}, new("false")
}

// judgementsOf lists a call's judgements as criterion=value/feedback, sorted.
func judgementsOf(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	return one[string](t, db, `SELECT coalesce(string_agg(criterion || '=' || coalesce(value, '-') || '/' || coalesce(feedback, '-'),
		',' ORDER BY criterion), '') FROM call_judgements WHERE call_id = $1`, id)
}

func staged(t *testing.T, db *store.DB, id string) bool {
	t.Helper()
	return one[bool](t, db, `SELECT EXISTS (SELECT FROM sync_queue WHERE call_id = $1 AND webhook_judgements IS NOT NULL)`, id)
}

func saveHook(t *testing.T, db *store.DB, id, want string) {
	t.Helper()
	js, answered := hookSet()
	got, err := db.SaveHookJudgements(t.Context(), id, js, answered)
	if err != nil || got != want {
		t.Fatalf("SaveHookJudgements(%s) = %q, %v; want %q", id, got, err, want)
	}
}

// getCall is a call as GET /v2/calls/{id} sends it: no judgements.
func getCall(id string) store.Call {
	c := fullCall(id)
	c.Judgements, c.AnsweredByHuman = nil, nil
	return c
}

const (
	hookJudged = "all=-/voicemail,answered_by_human=false/voicemail,goal=True/"
	listJudged = "answered_by_human=True/,goal=partial/no booking"
)

// TestDB_SaveHookJudgements_BeforeTheCall: a webhook's judgements wait on
// the queue row, land when the worker writes the call from GET (which has
// none), and a later GET keeps them.
func TestDB_SaveHookJudgements_BeforeTheCall(t *testing.T) {
	db := testDB(t)
	mustEnqueue(t, db, "w1")
	saveHook(t, db, "w1", store.HookJudgementsStaged)
	if !staged(t, db, "w1") || judgementsOf(t, db, "w1") != "" {
		t.Fatal("judgements not waiting on the queue row")
	}
	lease := claimAll(t, db)
	c := getCall("w1")
	mustComplete(t, db, lease.Token, []store.Outcome{{CallID: "w1", Call: &c, State: store.StateDone}})
	if got := judgementsOf(t, db, "w1"); got != hookJudged {
		t.Fatalf("judgements %q, want %q", got, hookJudged)
	}
	if staged(t, db, "w1") {
		t.Fatal("judgements still waiting after the call was written")
	}
	if got := one[string](t, db, `SELECT answered_by_human FROM calls WHERE call_id = 'w1'`); got != "false" {
		t.Fatalf("answered_by_human %q, want false", got)
	}
	// A re-sync from GET, the same payload or another, keeps them.
	for _, save := range []func() error{
		func() error { _, err := db.SaveCalls(t.Context(), []store.Call{getCall("w1")}); return err },
		func() error { _, err := db.SaveCalls(t.Context(), []store.Call{getCall("w1")}); return err },
		func() error {
			c := getCall("w1")
			c.PayloadHash = []byte("other")
			return storebench.SaveCallSlow(t.Context(), db, c)
		},
	} {
		if err := save(); err != nil {
			t.Fatal(err)
		}
		if got := judgementsOf(t, db, "w1"); got != hookJudged {
			t.Fatalf("after a re-sync: judgements %q, want %q", got, hookJudged)
		}
	}
}

// TestDB_SaveHookJudgements_NewestWins: list-page judge_results and a
// webhook's analysis for the same call: the set received last replaces the
// other whole, one row per criterion.
func TestDB_SaveHookJudgements_NewestWins(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	// Backfill first, then the webhook: the webhook's set replaces it at once.
	if _, err := db.SaveCalls(ctx, []store.Call{fullCall("b1")}); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, db, "b1")
	saveHook(t, db, "b1", store.HookJudgementsStored)
	if got := judgementsOf(t, db, "b1"); got != hookJudged {
		t.Fatalf("webhook after backfill: %q, want %q", got, hookJudged)
	}
	if staged(t, db, "b1") || one[bool](t, db, `SELECT payload_hash IS NOT NULL FROM calls WHERE call_id = 'b1'`) {
		t.Fatal("the stored call's judgements waited, or its payload hash was kept")
	}
	// The same list page again: newer than the webhook, and written in full.
	if _, err := db.SaveCalls(ctx, []store.Call{fullCall("b1")}); err != nil {
		t.Fatal(err)
	}
	if got := judgementsOf(t, db, "b1"); got != listJudged {
		t.Fatalf("backfill after the webhook: %q, want %q", got, listJudged)
	}

	// The webhook first, then a list page with judgements: the page wins
	// and the waiting set is dropped.
	mustEnqueue(t, db, "b2")
	saveHook(t, db, "b2", store.HookJudgementsStaged)
	if _, err := db.SaveCalls(ctx, []store.Call{fullCall("b2")}); err != nil {
		t.Fatal(err)
	}
	if got := judgementsOf(t, db, "b2"); got != listJudged || staged(t, db, "b2") {
		t.Fatalf("list page after the webhook: %q (staged %v), want %q", got, staged(t, db, "b2"), listJudged)
	}
	// The same id twice in a batch, the list page second: it wins too.
	mustEnqueue(t, db, "b3")
	saveHook(t, db, "b3", store.HookJudgementsStaged)
	if _, err := db.SaveCalls(ctx, []store.Call{getCall("b3"), fullCall("b3")}); err != nil {
		t.Fatal(err)
	}
	if got := judgementsOf(t, db, "b3"); got != listJudged {
		t.Fatalf("batch with a list page: %q, want %q", got, listJudged)
	}
	if n := one[int](t, db, `SELECT count(*) FROM call_judgements`); n != 6 {
		t.Fatalf("%d judgement rows, want 6 (two per call)", n)
	}
}

// TestDB_SaveHookJudgements_SlowPathAndWebhookAgain: SaveCallSlow writes
// waiting judgements as SaveCalls does, and a second webhook replaces the
// first's waiting set.
func TestDB_SaveHookJudgements_SlowPathAndWebhookAgain(t *testing.T) {
	db := testDB(t)
	mustEnqueue(t, db, "s1")
	saveHook(t, db, "s1", store.HookJudgementsStaged)
	js := []store.Judgement{{Criterion: "goal", Result: new("partial"), Value: new("partial"), Feedback: new("again")}}
	if got, err := db.SaveHookJudgements(t.Context(), "s1", js, new("")); err != nil || got != store.HookJudgementsStaged {
		t.Fatalf("second webhook = %q, %v", got, err)
	}
	if err := storebench.SaveCallSlow(t.Context(), db, getCall("s1")); err != nil {
		t.Fatal(err)
	}
	if got := judgementsOf(t, db, "s1"); got != "goal=partial/again" || staged(t, db, "s1") {
		t.Fatalf("judgements %q (staged %v), want the second webhook's", got, staged(t, db, "s1"))
	}
	if got := one[string](t, db, `SELECT answered_by_human FROM calls WHERE call_id = 's1'`); got != "" {
		t.Fatalf("answered_by_human %q, want empty (the set lacks it)", got)
	}
}

// TestDB_SaveHookJudgements_Dropped: erased, pruned and unqueued calls get
// nothing, and an empty set is an error.
func TestDB_SaveHookJudgements_Dropped(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.Forget(ctx, store.Erasure{CallIDs: []string{"gone"}}); err != nil {
		t.Fatal(err)
	}
	saveHook(t, db, "gone", store.HookJudgementsErased)
	saveHook(t, db, "nowhere", store.HookJudgementsUnqueued)
	if _, err := db.SaveCalls(ctx, []store.Call{getCall("old")}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `UPDATE calls SET started_at = now() - interval '400 days' WHERE call_id = 'old'`)
	if _, err := db.Prune(ctx, store.Retention{Calls: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	saveHook(t, db, "old", store.HookJudgementsPruned)
	if n := one[int](t, db, `SELECT count(*) FROM call_judgements`); n != 0 {
		t.Fatalf("%d judgement rows, want none", n)
	}
	if _, err := db.SaveHookJudgements(ctx, "x", nil, nil); err == nil || !strings.Contains(err.Error(), "no judgements") {
		t.Fatalf("empty set: err = %v", err)
	}
}

// TestDB_SaveHookJudgements_ForgetAndPrune: erasure deletes waiting
// judgements with the queue row, and the stored ones with the call;
// retention of calls drops waiting ones received longer ago, and empties
// the stored ones' values and feedback.
func TestDB_SaveHookJudgements_ForgetAndPrune(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "f1", "f2", "p1", "p2")
	for _, id := range []string{"f1", "p1", "p2"} {
		saveHook(t, db, id, store.HookJudgementsStaged)
	}
	if _, err := db.SaveCalls(ctx, []store.Call{getCall("f2")}); err != nil {
		t.Fatal(err)
	}
	saveHook(t, db, "f2", store.HookJudgementsStored)
	if _, err := db.Forget(ctx, store.Erasure{CallIDs: []string{"f1", "f2"}}); err != nil {
		t.Fatal(err)
	}
	if judgementsOf(t, db, "f2") != "" || one[int](t, db, `SELECT count(*) FROM sync_queue WHERE call_id IN ('f1', 'f2')`) != 0 {
		t.Fatal("erased calls keep judgements")
	}
	saveHook(t, db, "f1", store.HookJudgementsErased) // and a later webhook brings nothing back

	mustExec(t, db, `UPDATE sync_queue SET webhook_judged_at = now() - interval '2 days' WHERE call_id = 'p1'`)
	p, err := db.Prune(ctx, store.Retention{Calls: 24 * time.Hour})
	if err != nil || p.HookJudgements != 1 {
		t.Fatalf("Prune = %+v, %v; want one waiting set dropped", p, err)
	}
	if staged(t, db, "p1") || !staged(t, db, "p2") {
		t.Fatalf("after prune: p1 staged %v, p2 staged %v; want false, true", staged(t, db, "p1"), staged(t, db, "p2"))
	}
	if got := one[*time.Time](t, db, `SELECT webhook_judged_at FROM sync_queue WHERE call_id = 'p1'`); got != nil {
		t.Fatalf("webhook_judged_at %v kept after prune", got)
	}
	// A stored call's judgements lose value and feedback with its details.
	if _, err := db.SaveCalls(ctx, []store.Call{getCall("p2")}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `UPDATE calls SET started_at = now() - interval '400 days' WHERE call_id = 'p2'`)
	if _, err := db.Prune(ctx, store.Retention{Calls: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got := judgementsOf(t, db, "p2"); got != "all=-/-,answered_by_human=-/-,goal=-/-" {
		t.Fatalf("pruned call's judgements %q", got)
	}
}

// TestDB_SaveHookJudgements_WaitsForTheWorker: a webhook that arrives
// while a worker holds the call's queue row (Complete writes the call under
// it) waits, then finds the call stored and writes its judgements: they are
// never left waiting for a call already written.
func TestDB_SaveHookJudgements_WaitsForTheWorker(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "r1")
	tx, err := storetest.PoolOf(db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op once committed
	if _, err := tx.Exec(ctx, `SELECT FROM sync_queue WHERE call_id = 'r1' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	type result struct {
		outcome string
		err     error
	}
	done := make(chan result, 1)
	go func() {
		js, answered := hookSet()
		o, err := db.SaveHookJudgements(ctx, "r1", js, answered)
		done <- result{o, err}
	}()
	waitForLockWait(t, db) // until the webhook waits for the row
	if _, err := tx.Exec(ctx, `INSERT INTO calls (call_id, raw) VALUES ('r1', '{}')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.outcome != store.HookJudgementsStored {
		t.Fatalf("SaveHookJudgements = %q, %v; want stored", r.outcome, r.err)
	}
	if got := judgementsOf(t, db, "r1"); got != hookJudged || staged(t, db, "r1") {
		t.Fatalf("judgements %q (staged %v), want %q", got, staged(t, db, "r1"), hookJudged)
	}
}
