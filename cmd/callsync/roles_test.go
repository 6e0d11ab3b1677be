package main

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storetest"
)

const rolesScript = "../../deploy/sql/roles.sql"

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

// testRoles runs the roles script on a fresh database whose PUBLIC grants
// are revoked, so that only what the script grants counts. The roles are
// cluster-wide: their names are unique to the run, and they are dropped
// when the test ends.
func testRoles(t *testing.T) (dbURL, reader, worker string) {
	t.Helper()
	ctx := t.Context()
	dbURL = storetest.NewDatabase(t)
	suffix := strings.ToLower(rand.Text()[:10])
	reader, worker = "callsync_reader_"+suffix, "callsync_worker_"+suffix
	admin, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	var dbName string
	if err := admin.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`CREATE ROLE ` + worker + ` NOLOGIN`,
		`REVOKE ALL ON DATABASE ` + pgx.Identifier{dbName}.Sanitize() + ` FROM PUBLIC`,
		`REVOKE ALL ON SCHEMA public FROM PUBLIC`,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background() // t.Context is done by now
		for _, role := range []string{reader, worker} {
			// DROP OWNED revokes the role's grants here, on the database included.
			for _, sql := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
				if _, err := admin.Exec(ctx, sql); err != nil {
					t.Errorf("%s: %v", sql, err)
				}
			}
		}
	})
	for range 2 { // a second run changes nothing and fails nothing
		out, err := exec.CommandContext(ctx, psqlPath(t), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "reader="+reader,
			"-v", "worker="+worker, "-f", rolesScript, dbURL).CombinedOutput()
		if err != nil {
			t.Fatalf("psql -f %s: %v\n%s", rolesScript, err, out)
		}
	}
	return dbURL, reader, worker
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

func TestRolesScript_Reader(t *testing.T) {
	dbURL, reader, _ := testRoles(t)
	ctx := t.Context()
	owner, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	// A table a later migration would add: the default privileges cover it.
	if _, err := owner.Exec(ctx, `CREATE TABLE added_later (x int); INSERT INTO calls (call_id, raw) VALUES ('c1', '{}')`); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, asRole(t, dbURL, reader))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, rel := range []string{"call_facts", "daily_call_stats", "collected_variable_values", "sync_health",
		"calls", "transcript_lines", "collected_variables", "call_telephony", "sync_queue", "sync_runs", "added_later"} {
		if _, err := conn.Exec(ctx, `SELECT * FROM `+rel+` LIMIT 1`); err != nil {
			t.Errorf("reader cannot select from %s: %v", rel, err)
		}
	}
	var facts int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM call_facts WHERE call_id = 'c1'`).Scan(&facts); err != nil || facts != 1 {
		t.Errorf("reader sees %d call_facts rows for c1 (%v), want 1", facts, err)
	}
	for _, sql := range []string{
		`INSERT INTO sync_queue (call_id) VALUES ('x')`,
		`UPDATE calls SET status = 'x'`,
		`DELETE FROM calls`,
		`TRUNCATE sync_runs`,
		`CREATE TABLE mine (x int)`,
		`DROP VIEW call_facts`,
		`CREATE OR REPLACE VIEW sync_health AS SELECT 1 AS x`,
	} {
		if _, err := conn.Exec(ctx, sql); sqlState(err) != insufficientPrivilege {
			t.Errorf("reader: %s = %v, want permission denied", sql, err)
		}
	}
}

// TestRolesScript_Worker runs `enqueue` and `once` as a role with only the
// grants of section 2b: a whole pass works, and the schema is out of reach.
func TestRolesScript_Worker(t *testing.T) {
	dbURL, _, worker := testRoles(t)
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
	if got := count(t, dbURL, `SELECT count(*) FROM api_limits`); got != 1 {
		t.Errorf("%d api_limits rows, want the shared rate limit's 1", got)
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
		`TRUNCATE calls CASCADE`,
	} {
		if _, err := conn.Exec(ctx, sql); sqlState(err) != insufficientPrivilege {
			t.Errorf("worker: %s = %v, want permission denied", sql, err)
		}
	}
}
