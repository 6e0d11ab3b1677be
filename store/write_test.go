package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

func fullCall(id string) store.Call {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return store.Call{
		ID: id, ModelID: new("m1"), Status: new("completed"), EndCallReason: new("agent_goodbye"),
		TypeOfCall: new("inbound"), CampaignType: new("live"), PhoneNumberFrom: new("+1"), PhoneNumberTo: new("+2"),
		Name: new("Jo"), StartedAt: &start, DurationSeconds: new(int32(42)), Timezone: new("UTC"),
		RecordingURL: new("https://rec"), ErrorMessage: new(""), ExecutedActions: []byte(`{"a":1}`),
		PromptVariables: []byte(`{"p":"v"}`), Raw: []byte(`{"call_id":"` + id + `","judge_results":{"x":"true"}}`),
		Transcript: []store.TranscriptLine{{LineNo: 1, Speaker: "bot", Text: "hi"}, {LineNo: 2, Speaker: "human", Text: "yo"}},
		Variables:  []store.Variable{{AgentID: "ag", Name: "v", Value: []byte(`null`), Collected: new(true)}},
		Telephony:  &store.Telephony{Hangup: new("caller"), DurationMS: new(int64(1000)), StartedAt: &start},
		Labels:     []string{"vip"}, AgentsUsed: []string{}, AssistantVersion: new("v3"), LeadName: new("Jo Doe"),
		RecordingDuration: new(12.5), DeploymentType: new("telephony"), AgentPhoneNumber: new("+3"),
		AnsweredByHuman: new("true"),
		Actions: []store.Action{
			{Position: 1, Key: "info_extractor_email", Kind: "info_extractor", Identifier: new("email"),
				ReturnValue: []byte(`{"email":"a@b.c"}`), RanAt: &start, Raw: []byte(`{"return_value":"{\"email\":\"a@b.c\"}"}`)},
			{Position: 2, Key: "transfer", Kind: "custom_function", Status: new("transfer-failed-timeout"),
				ReturnValue: []byte(`"not json"`), Undecoded: []string{"return_value"}, Raw: []byte(`{"return_value":"not json"}`)},
		},
		Judgements: []store.Judgement{
			{Criterion: "answered_by_human", Result: new("true"), Value: new("True"), Feedback: new("")},
			{Criterion: "goal", Result: new("partial"), Value: new("partial"), Feedback: new("no booking")},
		},
	}
}

func TestDB_SaveCalls_Idempotent(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	calls := []store.Call{fullCall("a"), fullCall("b")}
	if _, err := db.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at")
	if _, err := db.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	after := storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("second save changed the tables (-first +second):\n%s", diff)
	}
	if n := len(after["transcript_lines"]); n != 4 {
		t.Fatalf("%d transcript lines, want 4", n)
	}
}

func TestDB_SaveCalls_KeepsWhatANewPayloadLacks(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.SaveCalls(ctx, []store.Call{fullCall("a")}); err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at", "raw", "payload_hash", "status")
	// A later payload with only an id, a new status and a different raw.
	sparse := store.Call{ID: "a", Status: new("failed"), Raw: []byte(`{"call_id":"a","status":"failed"}`),
		Telephony: &store.Telephony{DisconnectReason: new("error")}}
	if _, err := db.SaveCalls(ctx, []store.Call{sparse}); err != nil {
		t.Fatal(err)
	}
	after := storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables, "synced_at", "raw", "payload_hash", "status")
	// Only the telephony row gains the new field.
	before["call_telephony"] = nil
	after["call_telephony"] = nil
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("sparse payload erased data (-before +after):\n%s", diff)
	}
	var status, raw, hangup, reason string
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT c.status, c.raw::text, t.hangup, t.disconnect_reason FROM calls c
		JOIN call_telephony t USING (call_id)`).Scan(&status, &raw, &hangup, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || hangup != "caller" || reason != "error" {
		t.Errorf("status %q hangup %q reason %q", status, hangup, reason)
	}
	if want := `{"status": "failed", "call_id": "a", "judge_results": {"x": "true"}}`; raw != want {
		t.Errorf("raw = %s, want merged %s", raw, want)
	}
}

func TestDB_SaveCalls_ReplacesNonEmptyChildren(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustSave(t, db, fullCall("a"))
	c := fullCall("a")
	c.Transcript = []store.TranscriptLine{{LineNo: 1, Speaker: "bot", Text: "only"}}
	c.Variables = []store.Variable{{AgentID: "", Name: "w", Value: []byte(`{"k":[1]}`)}}
	if _, err := db.SaveCalls(ctx, []store.Call{c}); err != nil {
		t.Fatal(err)
	}
	snap := storetest.Snapshot(t, storetest.PoolOf(db), []string{"transcript_lines", "collected_variables"})
	want := map[string][]string{
		"transcript_lines":    {`{"text": "only", "call_id": "a", "line_no": 1, "speaker": "bot"}`},
		"collected_variables": {`{"name": "w", "value": {"k": [1]}, "call_id": "a", "agent_id": "", "collected": null, "shared_value": null}`},
	}
	if diff := cmp.Diff(want, snap); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestDB_SaveCalls_DeleteCascades(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	// The child tables have no foreign key (migration 00016): triggers
	// delete a call's rows with it, for a DELETE and a TRUNCATE by any
	// client, and the call can be stored again.
	for _, sql := range []string{`DELETE FROM calls WHERE call_id = 'a'`, `TRUNCATE calls`,
		`TRUNCATE calls, transcript_lines, collected_variables, call_telephony, call_actions, call_judgements`} {
		mustSave(t, db, fullCall("a"))
		if _, err := storetest.PoolOf(db).Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
		for table, rows := range storetest.Snapshot(t, storetest.PoolOf(db), storetest.DataTables) {
			if len(rows) != 0 {
				t.Errorf("%s: %s keeps %d rows", sql, table, len(rows))
			}
		}
	}
	mustSave(t, db, fullCall("a"))
}

func TestMigrations_UpDownUp(t *testing.T) {
	pool := storetest.Pool(t)
	db := store.New(pool)
	ctx := t.Context()
	if err := db.MigrateDown(ctx, nil, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.MigrationsCurrent(ctx, pool); err != nil || ok {
		t.Fatalf("MigrationsCurrent after down = %v, %v; want false", ok, err)
	}
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, err := db.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if !m.Applied {
			t.Errorf("migration %d not applied", m.Version)
		}
	}
	rows, err := pool.Query(ctx, `
		SELECT c.table_name || '.' || c.column_name FROM information_schema.columns c
		JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = 'public'::regnamespace
		WHERE c.table_schema = 'public' AND c.table_name <> 'goose_db_version'
		  AND col_description(k.oid, c.ordinal_position) IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	undocumented, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(undocumented) > 0 {
		t.Errorf("columns without COMMENT ON: %v", undocumented)
	}
	// Tables and views themselves (information_schema.columns above covers view columns too).
	rows, err = pool.Query(ctx, `
		SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'm')
		  AND relname <> 'goose_db_version' AND obj_description(oid, 'pg_class') IS NULL ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if names, err := pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(names) > 0 {
		t.Errorf("tables or views without COMMENT ON: %v %v", names, err)
	}
}

func TestMigrate_ConcurrentStarts(t *testing.T) {
	url := storetest.NewEmptyDatabase(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := store.Open(t.Context(), url, store.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(t.Context(), nil)
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpen_Errors(t *testing.T) {
	if _, err := store.Open(t.Context(), "postgres://u:secretpw@127.0.0.1:1/x?connect_timeout=1", store.Options{}); err == nil {
		t.Fatal("Open on a closed port succeeded")
	} else if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("error %q shows the password", err)
	}
	if _, err := store.Open(t.Context(), "postgres://u:secretpw@host:notaport/x", store.Options{}); err == nil {
		t.Fatal("Open with a bad URL succeeded")
	} else if strings.Contains(err.Error(), "secretpw") {
		t.Errorf("error %q shows the password", err)
	}
}

// TestOpen_JITOff checks that callsync's sessions do not JIT compile their
// statements, unless the URL asks for it, and that a write turns JIT off
// on any pool.
func TestOpen_JITOff(t *testing.T) {
	url := storetest.NewDatabase(t)
	sep := map[bool]string{true: "&", false: "?"}[strings.Contains(url, "?")]
	for _, tc := range []struct{ url, want string }{{url, "off"}, {url + sep + "jit=on", "on"}} {
		db, err := store.Open(t.Context(), tc.url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := one[string](t, db, `SHOW jit`); got != tc.want {
			t.Errorf("%s: jit = %s, want %s", tc.url, got, tc.want)
		}
		db.Close()
	}
	pool := storetest.Pool(t)
	if _, err := pool.Exec(t.Context(), `ALTER DATABASE `+pgx.Identifier{pool.Config().ConnConfig.Database}.Sanitize()+` SET jit = on`); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(t.Context()) }()
	if _, err := store.WriteCallsInTx(t.Context(), tx, []store.Call{fullCall("a")}); err != nil {
		t.Fatal(err)
	}
	var jit string
	if err := tx.QueryRow(t.Context(), `SHOW jit`).Scan(&jit); err != nil || jit != "off" {
		t.Errorf("jit after a write in the transaction = %q, %v; want off", jit, err)
	}
}

func TestOpen_PoolSize(t *testing.T) {
	url := storetest.NewDatabase(t)
	sep := map[bool]string{true: "&", false: "?"}[strings.Contains(url, "?")]
	for _, tc := range []struct {
		url  string
		opts store.Options
		want int32
	}{
		{url, store.Options{}, store.DefaultMaxConns},
		{url + sep + "pool_max_conns=3", store.Options{}, 3},
		{url + sep + "pool_max_conns=3", store.Options{MaxConns: 1}, 1},
	} {
		db, err := store.Open(t.Context(), tc.url, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := storetest.PoolOf(db).Config().MaxConns; got != tc.want {
			t.Errorf("Open(%s, %+v): pool of %d, want %d", tc.url, tc.opts, got, tc.want)
		}
		db.Close()
	}
}
