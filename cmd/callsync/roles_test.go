package main

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storetest"
)

const (
	rolesScript      = "../../deploy/sql/roles.sql"
	rolesAdminScript = "../../deploy/sql/roles-admin.sql"
)

// psqlPath finds psql on PATH or beside the server binaries.
func psqlPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	dir, err := pgserver.FindBinDir()
	if err != nil {
		t.Fatalf("psql is needed to run %s: not on PATH, and %v", rolesScript, err)
	}
	return filepath.Join(dir, "psql")
}

// asRole returns dbURL connecting as its user but acting as role, as SET
// ROLE does: privileges are those of role.
func asRole(t *testing.T, dbURL, role string) string {
	t.Helper()
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	// pgx reads %20, not +, as a space.
	return dbURL + sep + "options=" + strings.ReplaceAll(url.QueryEscape("-c role="+role), "+", "%20")
}

// roleSet names the roles of one test: unique to it, as roles are
// cluster-wide and other tests share the server.
type roleSet struct {
	dbURL                      string
	reader, pii, worker, owner string
}

// psqlScript runs script with psql on dbURL with vars; it returns psql's
// error and output.
func psqlScript(t *testing.T, dbURL, script string, vars ...string) (string, error) {
	t.Helper()
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1"}
	for _, v := range vars {
		args = append(args, "-v", v)
	}
	out, err := exec.CommandContext(t.Context(), psqlPath(t), append(args, "-f", script, dbURL)...).CombinedOutput()
	return string(out), err
}

// testRoles builds what deploy/docs/security.md describes on a fresh database hardened
// so that PUBLIC has no rights: the tables belong to an owner role without
// CREATEROLE; an administrator (the superuser here) runs roles-admin.sql,
// then the owner runs roles.sql. Each script runs twice: the second run
// changes nothing and fails nothing. The roles are dropped when the test
// ends. Statements in opened run after the hardening, as the superuser,
// with {db} standing for the database's quoted name: a database that grants
// PUBLIC more than PostgreSQL 15 does.
func testRoles(t *testing.T, opened ...string) roleSet {
	t.Helper()
	ctx := t.Context()
	rs := roleSet{dbURL: storetest.NewDatabase(t)}
	suffix := strings.ToLower(rand.Text()[:10])
	rs.reader, rs.pii = "callsync_reader_"+suffix, "callsync_pii_reader_"+suffix
	rs.worker, rs.owner = "callsync_worker_"+suffix, "callsync_owner_"+suffix
	admin, err := pgxpool.New(ctx, rs.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	var dbName string
	if err := admin.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	db := pgx.Identifier{dbName}.Sanitize()
	t.Cleanup(func() {
		ctx := context.Background() // t.Context is done by now
		for _, role := range []string{rs.reader, rs.pii, rs.worker, rs.owner} {
			// DROP OWNED revokes the role's grants here, on the database
			// included, and drops what it owns: this database's tables.
			for _, sql := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
				if _, err := admin.Exec(ctx, sql); err != nil && sqlState(err) != "42704" { // undefined: never created
					t.Errorf("%s: %v", sql, err)
				}
			}
		}
	})
	for _, sql := range []string{
		`CREATE ROLE ` + rs.worker + ` NOLOGIN`,
		`CREATE ROLE ` + rs.owner + ` NOLOGIN`,
		`REVOKE ALL ON DATABASE ` + db + ` FROM PUBLIC`,
		`REVOKE ALL ON SCHEMA public FROM PUBLIC`,
		// The owner as deploy/docs/security.md creates it.
		`GRANT CONNECT, TEMPORARY ON DATABASE ` + db + ` TO ` + rs.owner,
		`GRANT USAGE, CREATE ON SCHEMA public TO ` + rs.owner,
		`DO $$ DECLARE r record; BEGIN
		   FOR r IN SELECT c.relname, c.relkind FROM pg_class c
		            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') LOOP
		     EXECUTE format('ALTER %s public.%I OWNER TO ` + rs.owner + `',
		                    CASE r.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, r.relname);
		   END LOOP;
		 END $$`,
		`DO $$ DECLARE r record; BEGIN
		   FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace LOOP
		     EXECUTE format('ALTER FUNCTION %s OWNER TO ` + rs.owner + `', r.f);
		   END LOOP;
		 END $$`,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for _, sql := range opened {
		sql = strings.ReplaceAll(sql, "{db}", db)
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	vars := []string{"reader=" + rs.reader, "pii_reader=" + rs.pii, "worker=" + rs.worker}
	for range 2 {
		if out, err := psqlScript(t, rs.dbURL, rolesAdminScript, vars...); err != nil {
			t.Fatalf("psql -f %s: %v\n%s", rolesAdminScript, err, out)
		}
		out, err := psqlScript(t, asRole(t, rs.dbURL, rs.owner), rolesScript, vars...)
		if err != nil {
			t.Fatalf("psql -f %s as the owner: %v\n%s", rolesScript, err, out)
		}
		if strings.Contains(out, "WARNING") || strings.Contains(out, "no privileges") {
			t.Errorf("psql -f %s printed a warning:\n%s", rolesScript, out)
		}
	}
	return rs
}

// sqlState returns the SQLSTATE of err, or "" when it has none.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// insufficientPrivilege is the SQLSTATE of "permission denied" and "must be owner".
const insufficientPrivilege = "42501"

// readerColumns is what callsync_reader may read: for each table its
// columns, for each view "*". Anything else the catalog says it can reach
// fails TestRolesScript_ReaderReachesOnlyTheAllowList: a column added by a
// later migration stays hidden until roles.sql and this list allow it.
var readerColumns = map[string][]string{
	"calls": {"call_id", "model_id", "status", "end_call_reason", "custom_end_call_reason", "type_of_call",
		"campaign_type", "started_at", "duration_seconds", "timezone", "error_message", "first_synced_at",
		"synced_at", "phone_number_from_pseudonym", "phone_number_to_pseudonym", "has_recording",
		"transcript_pruned_at", "recording_pruned_at", "variables_pruned_at", "details_pruned_at", "labels",
		"agents_used", "assistant_version", "recording_duration", "deployment_type", "utterances",
		"agent_utterances", "human_utterances", "variables", "variables_collected", "answered_by_human"},
	"transcript_lines":    {"call_id", "line_no", "speaker"},
	"collected_variables": {"call_id", "agent_id", "name", "collected", "shared_value"},
	"call_telephony": {"call_id", "hangup", "disconnect_reason", "duration_ms", "ringing_duration_ms",
		"started_at", "ended_at"},
	"agents": {"model_id", "name", "type", "language", "timezone", "llm", "voice_id", "is_recording",
		"is_transcript_disabled", "redact_pii", "first_seen_at", "last_seen_at", "deleted_at"},
	"call_actions": {"call_id", "position", "action_key", "kind", "identifier", "name", "action_type",
		"status", "is_relevant", "ran_at", "has_error_message"},
	"call_judgements": {"call_id", "criterion", "result"},
	"sync_queue":      {"call_id", "state", "attempts", "polls", "next_attempt_at", "enqueued_at", "updated_at"},
	"sync_runs": {"id", "worker", "command", "started_at", "finished_at", "claimed", "synced", "unchanged",
		"requeued", "failed", "lost", "rescued", "api_requests", "api_rate_limited", "error"},
	"api_limits": {"paused_until"},
	"backfill_checkpoints": {"model_id", "window_start", "window_end", "next_offset", "total_records",
		"landed", "scans", "done", "updated_at"},
	"poll_watermarks":  {"model_id", "watermark", "polled_at", "updated_at"},
	"shared_variables": {"name", "added_at"},
	"rollup_dirty":     {"day", "model_id"},
	"daily_call_stats_rollup": {"day", "model_id", "calls", "answered", "completed", "failed", "no_answer",
		"voicemail", "busy", "answer_rate", "avg_duration_seconds", "median_duration_seconds", "p90_duration_seconds",
		"total_talk_minutes", "reached_voicemail", "utterances", "agent_utterances", "human_utterances", "variables",
		"variables_collected"},
	"daily_action_outcomes_rollup": {"day", "model_id", "kind", "action", "status", "actions", "calls", "failed",
		"with_error_message"},
	"daily_judgement_results_rollup": {"day", "model_id", "criterion", "calls", "true_count", "false_count",
		"partial_count", "not_applicable_count", "other_count", "pass_rate"},
	// Whether a call's recording is archived, and its length: not where.
	"recordings":                   {"call_id", "archived", "duration_seconds"},
	"call_facts":                   {"*"},
	"daily_call_stats":             {"*"},
	"collected_variable_values":    {"*"},
	"sync_health":                  {"*"},
	"daily_action_outcomes":        {"*"},
	"daily_judgement_results":      {"*"},
	"daily_call_stats_live":        {"*"},
	"daily_action_outcomes_live":   {"*"},
	"daily_judgement_results_live": {"*"},
}

// readerForbidden are columns that hold direct identifiers or queue
// internals: none may ever be on readerColumns.
var readerForbidden = []string{
	"calls.phone_number_from", "calls.phone_number_to", "calls.name", "calls.lead_name", "calls.recording_url",
	"calls.raw", "calls.agent_phone_number", "calls.executed_actions", "calls.prompt_variables",
	"transcript_lines.text", "collected_variables.value", "sync_queue.last_bad_body", "sync_queue.last_error",
	"sync_queue.webhook_judgements", "agents.phone_number", "agents.raw", "call_actions.raw",
	"call_actions.return_value", "call_actions.parameters_from_llm", "call_judgements.feedback",
	"call_judgements.value", "pseudonym_key.inner_pad", "erased_calls.call_id", "erasures.reason",
	"recordings.object_key", "recordings.sha256", "recordings.last_error",
	"call_actions.error_message", "transcript_search.text", "transcript_search.document",
}

// Personal data seeded by seedPersonalData: none may reach the reader.
const (
	secretPhone      = "+15550001111"
	secretName       = "Alice Secretname"
	secretTranscript = "my card number is 4242"
	secretRecording  = "https://recordings.example/secret.mp3"
	secretObjectKey  = "2026/03/01/pii1-object-key.wav"
	secretValue      = "alice@example.com"
	secretBadBody    = "BADBODY-SECRET"
	secretRaw        = "RAW-ONLY-SECRET"
	secretFeedback   = "FEEDBACK-SECRET about Alice"
)

// seedPersonalData stores, as the superuser, a call full of personal data
// and a queue row with an undecodable body; the variable plan is shared.
func seedPersonalData(t *testing.T, dbURL string) {
	t.Helper()
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := store.New(pool)
	if _, err := db.ShareVariables(ctx, []string{"plan"}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c := store.Call{ID: "pii1", ModelID: new("m1"), Status: new("completed"), PhoneNumberFrom: new(secretPhone),
		PhoneNumberTo: new(secretPhone), Name: new(secretName), StartedAt: &start, RecordingURL: new(secretRecording),
		Raw: []byte(`{"call_id":"pii1","x":"` + secretRaw + `"}`), ExecutedActions: []byte(`{"a":"` + secretValue + `"}`),
		Transcript: []store.TranscriptLine{{LineNo: 1, Speaker: "human", Text: secretTranscript}},
		Variables: []store.Variable{{Name: "email", Value: []byte(`"` + secretValue + `"`), Collected: new(true)},
			{Name: "plan", Value: []byte(`"gold"`), Collected: new(true)}}}
	if _, err := db.SaveCalls(ctx, []store.Call{c}); err != nil {
		t.Fatal(err)
	}
	secs := 42.5
	if err := db.SettleRecording(ctx, store.RecordingOutcome{CallID: "pii1", State: store.RecordingArchived,
		ObjectKey: secretObjectKey, ContentType: "audio/wav", Size: 1000, SHA256: make([]byte, 32), Duration: &secs}); err != nil {
		t.Fatal(err)
	}
	// Judgement feedback, stored and waiting for a call not stored yet.
	feedback := []store.Judgement{{Criterion: "goal", Result: new("false"), Value: new("false"), Feedback: new(secretFeedback)}}
	for _, id := range []string{"pii1", "pii3"} {
		if _, err := db.Enqueue(ctx, []string{id}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SaveHookJudgements(ctx, id, feedback, new("")); err != nil {
			t.Fatal(err)
		}
	}
	for _, sql := range []string{
		`INSERT INTO sync_queue (call_id, state, last_error, last_bad_body) VALUES ('pii2', 'failed', 'x', '` + secretBadBody + `')`,
		`UPDATE calls SET lead_name = '` + secretName + `', agent_phone_number = '` + secretPhone + `' WHERE call_id = 'pii1'`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// reachable lists, from the catalog, every column of every table or view
// in any schema that role may select, as relation.column (schema-qualified
// outside public).
const reachableSQL = `
SELECT CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || c.relname, a.attname, c.relkind::text
FROM   pg_class c
JOIN   pg_namespace n ON n.oid = c.relnamespace
JOIN   pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE  n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
       AND n.nspname NOT LIKE 'pg\_temp%'
       AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
       AND has_column_privilege($1, c.oid, a.attnum, 'SELECT')
ORDER  BY 1, 2`

// TestRolesScript_ReaderReachesOnlyTheAllowList enumerates from the catalog
// what callsync_reader can reach and checks it against readerColumns, then
// reads all of it as the reader and finds no personal data.
func TestRolesScript_ReaderReachesOnlyTheAllowList(t *testing.T) {
	rs := testRoles(t)
	ctx := t.Context()
	seedPersonalData(t, rs.dbURL)
	for _, f := range readerForbidden {
		rel, col, _ := strings.Cut(f, ".")
		if slices.Contains(readerColumns[rel], col) || slices.Contains(readerColumns[rel], "*") {
			t.Errorf("readerColumns allows %s, a direct identifier", f)
		}
	}
	owner, err := pgx.Connect(ctx, rs.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)

	rows, err := owner.Query(ctx, reachableSQL, rs.reader)
	if err != nil {
		t.Fatal(err)
	}
	reach := map[string][]string{} // relation → columns
	kinds := map[string]string{}
	var rel, col, kind string
	if _, err := pgx.ForEachRow(rows, []any{&rel, &col, &kind}, func() error {
		reach[rel] = append(reach[rel], col)
		kinds[rel] = kind
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for rel, cols := range reach {
		allowed := readerColumns[rel]
		for _, col := range cols {
			if !slices.Contains(allowed, col) && !(kinds[rel] == "v" && slices.Contains(allowed, "*")) {
				t.Errorf("reader can select %s.%s, which is not on the allow-list", rel, col)
			}
		}
	}
	for rel := range readerColumns {
		if _, ok := reach[rel]; !ok {
			t.Errorf("reader cannot reach %s, which the allow-list grants", rel)
		}
	}

	// Every view runs as its invoker: none reads a table with the owner's rights.
	var definer []string
	if err := owner.QueryRow(ctx, `
		SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') FROM pg_class c
		WHERE  c.relkind IN ('v', 'm') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
		       AND NOT coalesce(c.reloptions && ARRAY['security_invoker=true', 'security_invoker=on'], false)`).Scan(&definer); err != nil {
		t.Fatal(err)
	}
	if len(definer) > 0 {
		t.Errorf("views that run with their owner's rights: %v", definer)
	}
	// No function outside the system catalogs is executable by the reader:
	// callsync_pseudonym would let it test guessed numbers.
	var funcs []string
	if err := owner.QueryRow(ctx, `
		SELECT coalesce(array_agg(p.oid::regprocedure::text), '{}') FROM pg_proc p
		WHERE  p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
		       AND has_function_privilege($1, p.oid, 'EXECUTE')`, rs.reader).Scan(&funcs); err != nil {
		t.Fatal(err)
	}
	if len(funcs) > 0 {
		t.Errorf("reader can execute %v", funcs)
	}

	// Read everything reachable, as the reader: no personal data.
	conn, err := pgx.Connect(ctx, asRole(t, rs.dbURL, rs.reader))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var all strings.Builder
	for rel, cols := range reach {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = pgx.Identifier{c}.Sanitize()
		}
		var text string
		sql := `SELECT coalesce(json_agg(x)::text, '') FROM (SELECT ` + strings.Join(quoted, ", ") + ` FROM ` +
			pgx.Identifier(strings.Split(rel, ".")).Sanitize() + `) x`
		if err := conn.QueryRow(ctx, sql).Scan(&text); err != nil {
			t.Errorf("reader: %s: %v", sql, err)
			continue
		}
		all.WriteString(text)
	}
	for _, secret := range []string{secretPhone, secretName, secretTranscript, secretRecording, secretValue, secretObjectKey,
		secretBadBody, secretRaw, secretFeedback, strings.TrimPrefix(secretPhone, "+")} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("reader can read %q", secret)
		}
	}
	// What dashboards need is there: pseudonyms, shared values, counts.
	for _, want := range []string{`"caller_pseudonym"`, `"gold"`, `"speaker"`} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("reader cannot read %s", want)
		}
	}
	var archived bool
	var dur float64
	if err := conn.QueryRow(ctx, `SELECT archived, duration_seconds FROM recordings WHERE call_id = 'pii1'`).Scan(&archived, &dur); err != nil || !archived || dur != 42.5 {
		t.Errorf("reader: recordings of pii1 = %v, %v (%v); want archived, 42.5 s", archived, dur, err)
	}
	var facts int
	var pseudo *string
	if err := conn.QueryRow(ctx, `SELECT count(*), min(caller_pseudonym) FROM call_facts WHERE call_id = 'pii1' AND answered`).
		Scan(&facts, &pseudo); err != nil || facts != 1 || pseudo == nil || len(*pseudo) != 64 {
		t.Errorf("reader: call_facts of pii1 = %d rows, pseudonym %v (%v); want 1 answered call with a pseudonym", facts, pseudo, err)
	}
	for _, sql := range []string{
		`SELECT phone_number_from FROM calls`, `SELECT recording_url FROM calls`, `SELECT raw FROM calls`,
		`SELECT name FROM calls`, `SELECT lead_name FROM calls`, `SELECT text FROM transcript_lines`,
		`SELECT value FROM collected_variables`, `SELECT last_bad_body FROM sync_queue`, `SELECT object_key FROM recordings`,
		`SELECT last_error FROM sync_queue`, `SELECT * FROM pseudonym_key`, `SELECT * FROM erased_calls`,
		`SELECT callsync_pseudonym('` + secretPhone + `')`,
		`INSERT INTO sync_queue (call_id) VALUES ('x')`, `DELETE FROM calls`, `CREATE TABLE mine (x int)`,
		`DROP VIEW call_facts`, `CREATE OR REPLACE VIEW sync_health AS SELECT 1 AS x`,
	} {
		if _, err := conn.Exec(ctx, sql); sqlState(err) != insufficientPrivilege {
			t.Errorf("reader: %s = %v, want permission denied", sql, err)
		}
	}
}

// TestRolesScript_RevokeSticks revokes a view and a column from the
// reader: access ends at once, through the views too, and running roles.sql
// again does not give it back.
func TestRolesScript_RevokeSticks(t *testing.T) {
	rs := testRoles(t)
	ctx := t.Context()
	owner, err := pgx.Connect(ctx, asRole(t, rs.dbURL, rs.owner))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	conn, err := pgx.Connect(ctx, asRole(t, rs.dbURL, rs.reader))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{`SELECT * FROM call_facts`, `SELECT * FROM collected_variable_values`} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("reader before the revoke: %s: %v", sql, err)
		}
	}
	for _, sql := range []string{
		`REVOKE SELECT ON call_facts FROM ` + rs.reader,
		`REVOKE SELECT ON daily_call_stats_rollup FROM ` + rs.reader,
		`REVOKE SELECT (shared_value) ON collected_variables FROM ` + rs.reader,
	} {
		if _, err := owner.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	check := func(when string) {
		t.Helper()
		for _, sql := range []string{
			`SELECT * FROM call_facts`,
			`SELECT * FROM daily_call_stats`,          // reads daily_call_stats_rollup as the reader
			`SELECT * FROM collected_variable_values`, // reads shared_value as the reader
		} {
			if _, err := conn.Exec(ctx, sql); sqlState(err) != insufficientPrivilege {
				t.Errorf("reader %s: %s = %v, want permission denied", when, sql, err)
			}
		}
		if _, err := conn.Exec(ctx, `SELECT * FROM sync_health`); err != nil {
			t.Errorf("reader %s: sync_health: %v", when, err)
		}
	}
	check("after the revoke")
	vars := []string{"reader=" + rs.reader, "pii_reader=" + rs.pii}
	if out, err := psqlScript(t, asRole(t, rs.dbURL, rs.owner), rolesScript, vars...); err != nil {
		t.Fatalf("psql -f %s: %v\n%s", rolesScript, err, out)
	}
	check("after roles.sql ran again")
}

// TestRolesScript_PIIReader reads the personal data the reader cannot,
// but not the pseudonym key.
func TestRolesScript_PIIReader(t *testing.T) {
	rs := testRoles(t)
	ctx := t.Context()
	seedPersonalData(t, rs.dbURL)
	conn, err := pgx.Connect(ctx, asRole(t, rs.dbURL, rs.pii))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var phone, text string
	if err := conn.QueryRow(ctx, `SELECT c.phone_number_from, l.text FROM calls c JOIN transcript_lines l USING (call_id)`).
		Scan(&phone, &text); err != nil || phone != secretPhone || text != secretTranscript {
		t.Errorf("pii reader: %q %q (%v), want the stored number and text", phone, text, err)
	}
	for _, rel := range []string{"call_facts", "daily_call_stats", "collected_variable_values", "sync_health",
		"sync_queue", "erased_calls", "erasures", "call_actions", "call_judgements", "agents"} {
		if _, err := conn.Exec(ctx, `SELECT * FROM `+rel); err != nil {
			t.Errorf("pii reader: %s: %v", rel, err)
		}
	}
	var key string
	if err := conn.QueryRow(ctx, `SELECT object_key FROM recordings WHERE call_id = 'pii1'`).Scan(&key); err != nil || key != secretObjectKey {
		t.Errorf("pii reader: object key %q (%v), want %q", key, err, secretObjectKey)
	}
	for _, sql := range []string{`SELECT * FROM pseudonym_key`, `DELETE FROM calls`, `SELECT callsync_pseudonym('x')`} {
		if _, err := conn.Exec(ctx, sql); sqlState(err) != insufficientPrivilege {
			t.Errorf("pii reader: %s = %v, want permission denied", sql, err)
		}
	}
}

// TestRolesScript_FailsLoudly runs each script as a role without the
// privilege it needs: psql exits non-zero and says why.
func TestRolesScript_FailsLoudly(t *testing.T) {
	rs := testRoles(t)
	vars := []string{"reader=" + rs.reader, "pii_reader=" + rs.pii}
	for _, tc := range []struct {
		script, role, want string
	}{
		{rolesAdminScript, rs.owner, "has no CREATEROLE"},
		{rolesScript, rs.worker, "does not own"},
	} {
		out, err := psqlScript(t, asRole(t, rs.dbURL, tc.role), tc.script, vars...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("psql -f %s as %s: %v, output %q; want a failure saying %q", tc.script, tc.role, err, out, tc.want)
		}
	}
	missing := append([]string{"reader=callsync_reader_missing_" + strings.ToLower(rand.Text()[:6])}, vars[1:]...)
	out, err := psqlScript(t, asRole(t, rs.dbURL, rs.owner), rolesScript, missing...)
	if err == nil || !strings.Contains(out, "roles-admin.sql first") {
		t.Errorf("roles.sql with a missing role: %v, output %q; want a failure naming roles-admin.sql", err, out)
	}
}

// TestRolesScript_Worker runs `enqueue` and `once` as a role with only the
// worker's grants: a whole pass works, and the schema is out of reach.
func TestRolesScript_Worker(t *testing.T) {
	rs := testRoles(t)
	dbURL, worker := rs.dbURL, rs.worker
	ctx := t.Context()
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 4})
	srv := fakeAPI(t, calls...)
	env := map[string]string{"DATABASE_URL": asRole(t, dbURL, worker), "SYNTHFLOW_API_URL": srv.URL,
		"SYNTHFLOW_API_KEY": testKey, "SYNTHFLOW_RATE_LIMIT": "30", "SYNTHFLOW_RATE_BURST": "4", "SYNC_RUNS_RETENTION": "1h"}
	if r := runCmd(t, env, "", "enqueue", calls[0].ID(), calls[1].ID(), calls[2].ID(), calls[3].ID()); r.err != nil {
		t.Fatalf("enqueue as the worker: %v\n%s", r.err, r.stderr)
	}
	if r := runCmd(t, env, "", "once"); r.err != nil || strings.Contains(r.stderr, "permission denied") {
		t.Fatalf("once as the worker: %v\n%s", r.err, r.stderr)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE synced = 4 AND error IS NULL`); got != 1 {
		t.Errorf("%d sync_runs rows with 4 calls synced, want 1", got)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM transcript_lines`); got == 0 {
		t.Error("no transcript lines stored")
	}
	if got := count(t, dbURL, `SELECT count(*) FROM calls WHERE phone_number_from IS NOT NULL AND phone_number_from_pseudonym IS NULL`); got != 0 {
		t.Errorf("%d calls stored by the worker without a pseudonym", got)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM api_limits`); got != 1 {
		t.Errorf("%d api_limits rows, want the shared rate limit's 1", got)
	}
	if r := runCmd(t, env, "", "forget", "--call-id", calls[0].ID()); r.err != nil {
		t.Errorf("forget as the worker: %v\n%s", r.err, r.stderr)
	}
	conn, err := pgx.Connect(ctx, asRole(t, dbURL, worker))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`CREATE TABLE mine (x int)`,
		`DROP TABLE sync_runs`,
		`ALTER TABLE calls ADD COLUMN x int`,
		`DELETE FROM goose_db_version`,
		`UPDATE pseudonym_key SET created_at = now()`,
		`TRUNCATE calls CASCADE`,
	} {
		if _, err := conn.Exec(ctx, sql); sqlState(err) != insufficientPrivilege {
			t.Errorf("worker: %s = %v, want permission denied", sql, err)
		}
	}
}
