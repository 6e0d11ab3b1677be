package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storebench"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// mustNormalize decodes and normalizes a call object as a sync pass does.
func mustNormalize(t testing.TB, raw []byte) store.Call {
	t.Helper()
	ac, err := api.DecodeCall(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := callsync.Normalize(ac)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testCalls returns n generated calls, as a sync pass would write them.
func testCalls(t testing.TB, seed uint64, n int) []store.Call {
	t.Helper()
	gen := apitest.Generate(apitest.GenerateOptions{Seed: seed, Calls: n})
	calls := make([]store.Call, len(gen))
	for i, g := range gen {
		calls[i] = mustNormalize(t, g.GetJSON())
	}
	return calls
}

// hashed is fullCall with a payload hash, as sync sets it.
func hashed(id, hash string) store.Call {
	c := fullCall(id)
	c.PayloadHash = []byte(hash)
	return c
}

func mustSave(t *testing.T, db *store.DB, calls ...store.Call) int {
	t.Helper()
	r, err := db.SaveCalls(t.Context(), calls)
	if err != nil {
		t.Fatal(err)
	}
	return r.Unchanged
}

func TestDB_SaveCalls_SkipsUnchanged(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustSave(t, db, hashed("a", "h1"), hashed("b", "h1"))
	// Change the stored rows behind the writer's back: an unchanged payload
	// must not repair them, which shows it touched nothing but synced_at.
	_, err := storetest.PoolOf(db).Exec(ctx, `
		UPDATE calls SET status = 'edited', synced_at = '2000-01-01' WHERE call_id = 'a';
		DELETE FROM transcript_lines WHERE call_id = 'a' AND line_no = 2;
		UPDATE collected_variables SET value = '"edited"' WHERE call_id = 'a';
		UPDATE call_telephony SET hangup = 'edited' WHERE call_id = 'a'`)
	if err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at", "payload_hash")
	children := childVersions(t, db)
	if n := mustSave(t, db, hashed("a", "h1"), hashed("b", "h2")); n != 1 {
		t.Fatalf("unchanged = %d, want 1 (a)", n)
	}
	after := storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at", "payload_hash")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("unchanged a or rewritten b changed the tables (-before +after):\n%s", diff)
	}
	got := childVersions(t, db)
	for row, v := range children {
		if strings.HasPrefix(row, "a/") && got[row] != v {
			t.Errorf("child row %s was rewritten (%s → %s)", row, v, got[row])
		}
		if strings.HasPrefix(row, "b/") && got[row] == v {
			t.Errorf("child row %s of the changed call b was not rewritten", row)
		}
	}
	var advanced bool
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT synced_at > '2000-01-02' FROM calls WHERE call_id = 'a'`).Scan(&advanced); err != nil {
		t.Fatal(err)
	}
	if !advanced {
		t.Error("synced_at of the unchanged call did not advance")
	}
	// A new payload writes everything again.
	if n := mustSave(t, db, hashed("a", "h2")); n != 0 {
		t.Fatalf("unchanged = %d, want 0", n)
	}
	var status string
	var lines int
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT status, (SELECT count(*) FROM transcript_lines WHERE call_id = 'a')
		FROM calls WHERE call_id = 'a'`).Scan(&status, &lines); err != nil {
		t.Fatal(err)
	}
	if status != "completed" || lines != 2 {
		t.Fatalf("after a new payload: status %q, %d lines; want completed, 2", status, lines)
	}
}

// childVersions returns the row version (xmin) of every child row, keyed by
// call id, table and key.
func childVersions(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	rows, err := storetest.PoolOf(db).Query(t.Context(), `
		SELECT call_id || '/lines/' || line_no, xmin::text FROM transcript_lines
		UNION ALL SELECT call_id || '/variables/' || name, xmin::text FROM collected_variables
		UNION ALL SELECT call_id || '/telephony', xmin::text FROM call_telephony`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if len(out) == 0 {
		t.Fatal("no child rows")
	}
	return out
}

func TestDB_SaveCalls_NoHashIsNeverUnchanged(t *testing.T) {
	db := testDB(t)
	mustSave(t, db, fullCall("a"))
	if n := mustSave(t, db, fullCall("a")); n != 0 {
		t.Fatalf("unchanged = %d for calls without a hash, want 0", n)
	}
}

// TestDB_SaveCalls_SameAsSlowPath writes the same sequence of batches,
// realistic calls and their later, different payloads, with duplicates
// within batches, through SaveCalls and call by call through SaveCallSlow,
// and expects the same warehouse.
func TestDB_SaveCalls_SameAsSlowPath(t *testing.T) {
	gen := apitest.Generate(apitest.GenerateOptions{Seed: 7, Calls: 120})
	var batches [][]store.Call
	var first, later []store.Call
	for i, g := range gen {
		first = append(first, mustNormalize(t, g.GetJSON()))
		switch i % 4 {
		case 0: // the list endpoint's field set: call_status, list-only fields, no prompt_variables
			later = append(later, mustNormalize(t, g.ListJSON()))
		case 1: // the transcript and recording are gone after retention
			gone, err := g.With("recording_url", "")
			if err != nil {
				t.Fatal(err)
			}
			later = append(later, mustNormalize(t, gone.Without("transcript", "collected_variables").GetJSON()))
		case 2: // new values
			changed, err := g.With("status", "failed")
			if err != nil {
				t.Fatal(err)
			}
			changed, err = changed.With("transcript", "bot: new\nhuman: words")
			if err != nil {
				t.Fatal(err)
			}
			later = append(later, mustNormalize(t, changed.GetJSON()))
		default: // the same payload
			later = append(later, first[i])
		}
	}
	batches = append(batches, first[:50], first[50:])
	// Later payloads, with each call's first payload again right before it
	// in the same batch for a third of them: duplicates, the last one wins.
	var mixed []store.Call
	for i := range later {
		if i%3 == 0 {
			mixed = append(mixed, first[i])
		}
		mixed = append(mixed, later[i])
	}
	batches = append(batches, mixed, later, first)

	fast, slow := testDB(t), testDB(t)
	ctx := t.Context()
	for _, b := range batches {
		if _, err := fast.SaveCalls(ctx, b); err != nil {
			t.Fatal(err)
		}
		for _, c := range b {
			if err := storebench.SaveCallSlow(ctx, slow, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	ignore := []string{"synced_at", "first_synced_at"}
	want := storetest.Snapshot(t, storetest.PoolOf(slow), storetest.DataTables, ignore...)
	got := storetest.Snapshot(t, storetest.PoolOf(fast), storetest.DataTables, ignore...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("SaveCalls differs from SaveCallSlow (-slow +fast):\n%s", diff)
	}
	if len(got["transcript_lines"]) < 1000 || len(got["collected_variables"]) == 0 || len(got["call_telephony"]) == 0 {
		t.Fatalf("too little data to compare: %d lines, %d variables, %d telephony rows",
			len(got["transcript_lines"]), len(got["collected_variables"]), len(got["call_telephony"]))
	}
}

func TestDB_SaveCalls_DuplicateIDsLastWins(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	a2 := hashed("a", "h2")
	a2.Status = new("failed")
	a2.Transcript = []store.TranscriptLine{{LineNo: 1, Speaker: "bot", Text: "second"}}
	a2.Raw = []byte(`{"call_id":"a","status":"failed","extra":1}`)
	sparse := store.Call{ID: "a", Raw: []byte(`{"late":true}`), PayloadHash: []byte("h3")}
	// a twice with the same hash: the second is unchanged.
	n, err := db.SaveCalls(ctx, []store.Call{hashed("a", "h1"), hashed("b", "h1"), hashed("a", "h1"), a2, sparse})
	if err != nil {
		t.Fatal(err)
	}
	if n.Unchanged != 1 {
		t.Fatalf("unchanged = %d, want 1", n.Unchanged)
	}
	var status, raw, hash string
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT status, raw::text, encode(payload_hash, 'escape') FROM calls WHERE call_id = 'a'`).
		Scan(&status, &raw, &hash); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || hash != "h3" {
		t.Errorf("status %q hash %q, want failed h3", status, hash)
	}
	if want := `{"late": true, "extra": 1, "status": "failed", "call_id": "a", "judge_results": {"x": "true"}}`; raw != want {
		t.Errorf("raw = %s, want %s", raw, want)
	}
	snap := storetest.Snapshot(t, storetest.PoolOf(db), []string{"transcript_lines"})
	want := []string{
		`{"text": "hi", "call_id": "b", "line_no": 1, "speaker": "bot"}`,
		`{"text": "second", "call_id": "a", "line_no": 1, "speaker": "bot"}`,
		`{"text": "yo", "call_id": "b", "line_no": 2, "speaker": "human"}`,
	}
	if diff := cmp.Diff(want, snap["transcript_lines"]); diff != "" {
		t.Fatalf("transcript lines (-want +got):\n%s", diff)
	}
}

func TestDB_Complete_Unchanged(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	calls := testCalls(t, 3, 20)
	for round := range 2 {
		var ids []string
		for _, c := range calls {
			ids = append(ids, c.ID)
		}
		mustEnqueue(t, db, ids...)
		l := claimAll(t, db)
		var outcomes []store.Outcome
		for i := range calls {
			outcomes = append(outcomes, store.Outcome{CallID: calls[i].ID, Call: &calls[i], State: store.StateDone})
		}
		res, err := db.Complete(ctx, l.Token, outcomes)
		if err != nil {
			t.Fatal(err)
		}
		if want := round * len(calls); res.Unchanged != want {
			t.Fatalf("round %d: unchanged = %d, want %d", round, res.Unchanged, want)
		}
	}
}

func TestDB_Claim_UsesPartialIndex(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	_, err := storetest.PoolOf(db).Exec(ctx, `
		INSERT INTO sync_queue (call_id, state, next_attempt_at)
		SELECT 'done-' || i, 'done', now() - interval '1 day' FROM generate_series(1, 50000) i;
		INSERT INTO calls (call_id, raw)
		SELECT call_id, '{}' FROM sync_queue;
		INSERT INTO sync_queue (call_id, next_attempt_at)
		SELECT 'pending-' || i, now() + (i - 50) * interval '1 minute' FROM generate_series(1, 100) i;
		ANALYZE sync_queue;
		ANALYZE calls`)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := storetest.PoolOf(db).Query(ctx, "EXPLAIN "+store.ClaimSQL, 100, int64(60000), int64(1), store.ListGrace.Milliseconds())
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "Index Scan using sync_queue_due_idx") ||
		!strings.Contains(text, "Index Scan using calls_pkey") || strings.Contains(text, "Seq Scan") {
		t.Fatalf("the claim does not read the partial index and the stored calls by key alone:\n%s", text)
	}
	t.Logf("claim plan with 50,000 done rows and their calls:\n%s", text)
	l, err := db.Claim(ctx, 100, time.Minute)
	if err != nil || len(l.Rows) != 50 {
		t.Fatalf("claimed %d rows (%v), want the 50 due", len(l.Rows), err)
	}
}

func TestDB_SaveCalls_CompressesPayloadsWithLZ4(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	c := fullCall("a")
	c.Raw = []byte(`{"call_id":"a","transcript":"` + strings.Repeat("bot: hello there\\n", 400) + `"}`)
	mustSave(t, db, c)
	var lz4 bool
	var method string
	err := storetest.PoolOf(db).QueryRow(ctx, `
		SELECT coalesce(bool_or('lz4' = ANY (enumvals)), false) FROM pg_settings WHERE name = 'default_toast_compression'`).
		Scan(&lz4)
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT pg_column_compression(raw) FROM calls`).Scan(&method); err != nil {
		t.Fatal(err)
	}
	if want := map[bool]string{true: "lz4", false: "pglz"}[lz4]; method != want {
		t.Fatalf("raw compressed with %s, want %s", method, want)
	}
}
