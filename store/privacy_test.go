package store_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storebench"
	"github.com/callsync/callsync/store/storetest"
	"github.com/jackc/pgx/v5"
)

func one[T any](t *testing.T, db *store.DB, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := storetest.PoolOf(db).QueryRow(t.Context(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// TestDB_Forget_InFlight erases a call claimed by a worker before the
// worker completes it: the worker's write is dropped and counted, not
// stored, and the other calls of the batch are stored.
func TestDB_Forget_InFlight(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.Enqueue(ctx, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	lease, err := db.Claim(ctx, 10, time.Minute)
	if err != nil || len(lease.Rows) != 2 {
		t.Fatalf("claim: %v %v", lease.Rows, err)
	}
	res, err := db.Forget(ctx, store.Erasure{CallIDs: []string{"a", "never-stored"}, Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Calls) != 2 || res.Stored != 0 || res.Queued != 1 {
		t.Errorf("Forget = %+v, want 2 calls, none stored, 1 queue row", res)
	}
	a, b := fullCall("a"), fullCall("b")
	done, err := db.Complete(ctx, lease.Token, []store.Outcome{
		{CallID: "a", Call: &a, State: store.StateDone},
		{CallID: "b", Call: &b, State: store.StateDone},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(done.Erased) != 1 || done.Erased[0] != "a" || len(done.Lost) != 0 {
		t.Errorf("Complete = %+v, want a erased, nothing lost", done)
	}
	if got := one[string](t, db, `SELECT string_agg(call_id, ',' ORDER BY call_id) FROM calls`); got != "b" {
		t.Errorf("stored calls %q, want b", got)
	}
	// An erased id enqueued again is not queued; nor by EnqueueNew.
	r, err := db.Enqueue(ctx, []string{"a", "c"})
	if err != nil || r.Added != 1 || len(r.Erased) != 1 {
		t.Errorf("Enqueue = %+v, %v; want c added, a erased", r, err)
	}
	if n, err := db.EnqueueNew(ctx, []string{"never-stored"}); err != nil || n != 0 {
		t.Errorf("EnqueueNew of an erased id = %d, %v", n, err)
	}
	saved, err := db.SaveCalls(ctx, []store.Call{fullCall("never-stored"), fullCall("d")})
	if err != nil || len(saved.Erased) != 1 {
		t.Errorf("SaveCalls = %+v, %v; want never-stored erased", saved, err)
	}
	if err := storebench.SaveCallSlow(ctx, db, fullCall("a")); err != nil {
		t.Fatal(err)
	}
	if got := one[string](t, db, `SELECT string_agg(call_id, ',' ORDER BY call_id) FROM calls`); got != "b,d" {
		t.Errorf("stored calls %q, want b,d", got)
	}
	// The audit row names no call; the tombstones hold no personal data.
	if got := one[string](t, db, `SELECT row_to_json(e)::text FROM erasures e`); strings.Contains(got, `"a"`) {
		t.Errorf("erasures row names a call: %s", got)
	}
}

// TestDB_Forget_ByPhone erases every call from or to a number, children
// included.
func TestDB_Forget_ByPhone(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	a, b, c := fullCall("a"), fullCall("b"), fullCall("c")
	a.PhoneNumberFrom, b.PhoneNumberTo, c.PhoneNumberFrom, c.PhoneNumberTo = new("+4915100"), new("+4915100"), new("+3"), new("+4")
	mustSave(t, db, a, b, c)
	res, err := db.Forget(ctx, store.Erasure{PhoneNumbers: []string{"4915100"}}) // digits, as sync passes them
	if err != nil || strings.Join(res.Calls, ",") != "a,b" || res.Stored != 2 {
		t.Fatalf("Forget = %+v, %v; want a and b", res, err)
	}
	for _, table := range []string{"calls", "transcript_lines", "collected_variables", "call_telephony"} {
		if n := one[int](t, db, `SELECT count(*) FROM `+table+` WHERE call_id IN ('a', 'b')`); n != 0 {
			t.Errorf("%s keeps %d rows of erased calls", table, n)
		}
	}
	if n := one[int](t, db, `SELECT count(*) FROM erased_calls WHERE model_id = 'm1' AND started_at IS NOT NULL`); n != 2 {
		t.Errorf("%d tombstones with model and start, want 2 (verify counts them)", n)
	}
}

// TestDB_Prune_StaysPruned prunes each class, then writes the calls again
// in full, by both write paths: nothing pruned comes back, facts stay.
func TestDB_Prune_StaysPruned(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	old := func(id string) store.Call {
		c := fullCall(id)
		c.Raw = []byte(`{"call_id":"` + id + `","transcript":"bot: hi","recording_url":"https://rec","collected_variables":{"v":1},"prompt_variables":{"p":1},"phone_number_from":"+1"}`)
		c.LeadName, c.AgentPhoneNumber = new("Lead Person"), new("+4930")
		c.Actions = []store.Action{{Position: 1, Key: "info_extractor_email", Kind: "info_extractor",
			ReturnValue: []byte(`{"email":"x@y"}`), Raw: []byte(`{"return_value":"x@y"}`), Status: new("ok")}}
		c.Judgements = []store.Judgement{{Criterion: "goal", Result: new("true"), Value: new("true"), Feedback: new("Lead Person said yes")}}
		return c
	}
	mustSave(t, db, old("t"), old("r"), old("v"), old("c"), old("keep"))
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE calls SET started_at = now() - interval '10 days' WHERE call_id <> 'keep'`); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for _, step := range []struct {
		id   string
		r    store.Retention
		want store.Pruned // what the call had: the retention of calls removes all of it
	}{
		{"t", store.Retention{Transcripts: day}, store.Pruned{Transcripts: 1}},
		{"r", store.Retention{Recordings: day}, store.Pruned{Recordings: 1}},
		{"v", store.Retention{Variables: day}, store.Pruned{Variables: 1}},
		{"c", store.Retention{Calls: day}, store.Pruned{Transcripts: 1, Recordings: 1, Variables: 1, Calls: 1}},
	} {
		// Only the call of the step is old enough for its class.
		if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE calls SET started_at = now() - CASE WHEN call_id = $1 THEN interval '10 days' ELSE interval '1 hour' END`, step.id); err != nil {
			t.Fatal(err)
		}
		p, err := db.Prune(ctx, step.r)
		if err != nil {
			t.Fatal(err)
		}
		if p != step.want {
			t.Errorf("prune %s: %+v, want %+v", step.id, p, step.want)
		}
	}
	if p, err := db.Prune(ctx, store.Retention{Transcripts: day, Recordings: day, Variables: day, Calls: day}); err != nil || p != (store.Pruned{}) {
		t.Errorf("second prune: %+v %v, want nothing more", p, err)
	}
	check := func(when string) {
		t.Helper()
		for sql, want := range map[string]string{
			`SELECT string_agg(DISTINCT text, '|') FROM transcript_lines WHERE call_id IN ('t', 'c')`:                                                                                                                   "",
			`SELECT count(*)::text FROM transcript_lines WHERE call_id IN ('t', 'c')`:                                                                                                                                   "4",
			`SELECT coalesce(recording_url, 'NULL') FROM calls WHERE call_id = 'r'`:                                                                                                                                     "NULL",
			`SELECT coalesce(recording_url, 'NULL') || has_recording FROM calls WHERE call_id = 'c'`:                                                                                                                    "NULLfalse",
			`SELECT string_agg(value::text || coalesce(shared_value::text, '-'), '|') FROM collected_variables WHERE call_id IN ('v', 'c')`:                                                                             "null-|null-",
			`SELECT coalesce(prompt_variables::text, 'NULL') FROM calls WHERE call_id = 'v'`:                                                                                                                            "NULL",
			`SELECT raw::text FROM calls WHERE call_id = 'c'`:                                                                                                                                                           "{}",
			`SELECT concat_ws(',', phone_number_from, phone_number_to, name, phone_number_from_pseudonym, executed_actions) FROM calls WHERE call_id = 'c'`:                                                             "",
			`SELECT concat_ws(',', status, model_id, duration_seconds, started_at IS NOT NULL) FROM calls WHERE call_id = 'c'`:                                                                                          "completed,m1,42,t",
			`SELECT string_agg(call_id || ':' || (raw ? 'transcript')::text || (raw ? 'recording_url')::text || (raw ? 'collected_variables')::text, ',' ORDER BY call_id) FROM calls WHERE call_id IN ('t', 'r', 'v')`: "r:truefalsetrue,t:falsetruetrue,v:truetruefalse",
			`SELECT (details_pruned_at IS NOT NULL AND transcript_pruned_at IS NOT NULL)::text FROM calls WHERE call_id = 'c'`:                                                                                          "true",
			`SELECT concat_ws(',', lead_name, agent_phone_number) FROM calls WHERE call_id = 'c'`:                                                                                                                       "",
			`SELECT string_agg(call_id || coalesce(return_value::text, '-') || raw::text || status, ',' ORDER BY call_id) FROM call_actions WHERE call_id IN ('v', 'c')`:                                                "c-{}ok,v-{}ok",
			`SELECT string_agg(call_id || result || coalesce(feedback, '-'), ',' ORDER BY call_id) FROM call_judgements WHERE call_id IN ('v', 'c')`:                                                                    "ctrue-,vtrueLead Person said yes",
			`SELECT string_agg(text, '|') FROM transcript_lines WHERE call_id = 'keep'`:                                                                                                                                 "hi|yo",
		} {
			if got := one[string](t, db, `SELECT coalesce((`+sql+`), '')`); got != want {
				t.Errorf("%s: %s = %q, want %q", when, sql, got, want)
			}
		}
	}
	check("after prune")
	// A re-sync with a new payload (new hash) and everything sent again.
	var again []store.Call
	for _, id := range []string{"t", "r", "v", "c", "keep"} {
		c := old(id)
		c.PayloadHash = []byte("new")
		again = append(again, c)
	}
	mustSave(t, db, again...)
	check("after a re-sync by SaveCalls")
	for _, c := range again {
		c.PayloadHash = []byte("newer")
		if err := storebench.SaveCallSlow(ctx, db, c); err != nil {
			t.Fatal(err)
		}
	}
	check("after a re-sync by SaveCallSlow")
}

// TestDB_Pseudonym checks that the stored pseudonym is HMAC-SHA256 under
// the database's key, the same for the same number on both write paths.
func TestDB_Pseudonym(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	a, b := fullCall("a"), fullCall("b")
	a.PhoneNumberFrom, b.PhoneNumberTo = new("+15551234567"), new("+15551234567")
	mustSave(t, db, a)
	if err := storebench.SaveCallSlow(ctx, db, b); err != nil {
		t.Fatal(err)
	}
	from := one[string](t, db, `SELECT phone_number_from_pseudonym FROM calls WHERE call_id = 'a'`)
	to := one[string](t, db, `SELECT phone_number_to_pseudonym FROM calls WHERE call_id = 'b'`)
	if from != to || len(from) != 64 {
		t.Errorf("pseudonyms %q and %q, want the same 64 hex digits", from, to)
	}
	inner := one[[]byte](t, db, `SELECT inner_pad FROM pseudonym_key`)
	key := make([]byte, 64)
	for i := range inner {
		key[i] = inner[i] ^ 0x36
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("+15551234567"))
	if want := hex.EncodeToString(m.Sum(nil)); from != want {
		t.Errorf("pseudonym %s, want HMAC-SHA256 %s", from, want)
	}
}

// TestDB_SharedVariables_WritePath: a shared variable's value is copied to
// shared_value as the call is written, by both write paths.
func TestDB_SharedVariables_WritePath(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.ShareVariables(ctx, []string{"plan"}); err != nil {
		t.Fatal(err)
	}
	a := fullCall("a")
	a.Variables = []store.Variable{{Name: "plan", Value: []byte(`"gold"`)}, {Name: "email", Value: []byte(`"x@y"`)}}
	b := a
	b.ID = "b"
	mustSave(t, db, a)
	if err := storebench.SaveCallSlow(ctx, db, b); err != nil {
		t.Fatal(err)
	}
	got := one[string](t, db, `SELECT string_agg(call_id || name || '=' || coalesce(shared_value::text, '-'), ',' ORDER BY call_id, name) FROM collected_variables`)
	if want := `aemail=-,aplan="gold",bemail=-,bplan="gold"`; got != want {
		t.Errorf("shared values %s, want %s", got, want)
	}
	if names, err := db.SharedVariables(ctx); err != nil || strings.Join(names, ",") != "plan" {
		t.Errorf("SharedVariables = %v, %v", names, err)
	}
}

// TestDB_Forget_EveryTableWithACallID erases calls stored with every kind
// of child row and checks every table of the schema that has a call_id
// column, found in the catalog, so that a table added later is checked
// too: none keeps a row of an erased call but the tombstones, and the
// other call keeps all of its rows. The child tables have no foreign key
// to calls (migration 00016): nothing but Forget deletes their rows.
func TestDB_Forget_EveryTableWithACallID(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.SaveCalls(ctx, []store.Call{fullCall("a"), fullCall("b"), fullCall("keep")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Enqueue(ctx, []string{"a", "keep"}); err != nil {
		t.Fatal(err)
	}
	rows, err := storetest.PoolOf(db).Query(ctx, `
		SELECT c.table_name FROM information_schema.columns c
		JOIN   information_schema.tables t USING (table_schema, table_name)
		WHERE  c.table_schema = 'public' AND c.column_name = 'call_id' AND t.table_type = 'BASE TABLE'
		ORDER  BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	count := func(table, id string) int {
		return one[int](t, db, `SELECT count(*)::int FROM `+pgx.Identifier{table}.Sanitize()+` WHERE call_id = $1`, id)
	}
	before := map[string]int{}
	for _, table := range tables {
		before[table] = count(table, "keep")
		if table != "erased_calls" && table != "sync_queue" && count(table, "a") == 0 {
			t.Errorf("%s: no row of call a before the erasure: the test's call lacks a kind of row", table)
		}
	}
	if _, err := db.Forget(ctx, store.Erasure{CallIDs: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		for _, id := range []string{"a", "b"} {
			if n, want := count(table, id), map[bool]int{true: 1}[table == "erased_calls"]; n != want {
				t.Errorf("%s: %d rows of erased call %s, want %d", table, n, id, want)
			}
		}
		if n := count(table, "keep"); n != before[table] {
			t.Errorf("%s: %d rows of the other call after the erasure, had %d", table, n, before[table])
		}
	}
	if len(tables) < 8 {
		t.Errorf("tables with a call_id column: %v; want calls, its five child tables, the queue and the tombstones", tables)
	}
}
