package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
)

// TestForget_StaysGone erases calls by id and by phone number, then runs
// every intake path against an API that still serves them: none brings
// them back, and verify does not report them missing.
func TestForget_StaysGone(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 71, Calls: 40, Models: 1})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	dbURL := env["DATABASE_URL"]
	model := srv.Models()[0]
	span := []string{"--model-id", model, "--from", "2026-05-01", "--to", "2026-06-01"}
	if r := runCmd(t, env, "", append([]string{"backfill"}, span...)...); r.err != nil {
		t.Fatalf("backfill: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM calls`); n != 40 {
		t.Fatalf("%d calls stored, want 40", n)
	}
	byID := calls[3].ID()
	var phone string
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.QueryRow(t.Context(), `SELECT phone_number_from FROM calls
		WHERE phone_number_from ~ '^\+[1-9][0-9]{6,14}$' AND call_id <> $1 ORDER BY call_id LIMIT 1`, byID).Scan(&phone); err != nil {
		t.Fatal(err)
	}
	var erased []string
	rows, _ := pool.Query(t.Context(), `SELECT call_id FROM calls WHERE call_id = $1 OR phone_number_from = $2 OR phone_number_to = $2`, byID, phone)
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		erased = append(erased, id)
	}
	if rows.Err() != nil || len(erased) < 2 {
		t.Fatalf("victims %v (%v): want the call by id and at least one by number", erased, rows.Err())
	}
	if _, err := pool.Exec(t.Context(), `INSERT INTO sync_queue (call_id) VALUES ($1)`, byID); err != nil {
		t.Fatal(err)
	}

	// By id on the command line, by number on standard input.
	r := runCmd(t, env, "# ticket\n"+phone+"\n", "forget", "--call-id", byID, "--reason", "ticket 42", "-")
	if r.err != nil {
		t.Fatalf("forget: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	for _, id := range erased {
		if !strings.Contains(r.stdout, "erased "+id+"\n") {
			t.Errorf("forget output does not list %s:\n%s", id, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, phone) {
		t.Errorf("forget printed the phone number:\n%s%s", r.stdout, r.stderr)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM erasures WHERE requested = 2 AND erased = `+strconv.Itoa(len(erased))+` AND reason = 'ticket 42'`); n != 1 {
		t.Errorf("%d erasures audit rows for the request, want 1", n)
	}

	gone := func(after string) {
		t.Helper()
		for _, id := range erased {
			for _, table := range []string{"calls", "transcript_lines", "collected_variables", "call_telephony", "sync_queue"} {
				if n := countArg(t, pool, `SELECT count(*) FROM `+table+` WHERE call_id = $1`, id); n != 0 {
					t.Errorf("after %s: %s has %d rows of erased call %s", after, table, n, id)
				}
			}
		}
		if n := countArg(t, pool, `SELECT count(*) FROM calls WHERE phone_number_from = $1 OR phone_number_to = $1`, phone); n != 0 {
			t.Errorf("after %s: %d calls with the erased number", after, n)
		}
		if n := count(t, dbURL, `SELECT count(*) FROM calls`); n != 40-len(erased) {
			t.Errorf("after %s: %d calls, want %d", after, n, 40-len(erased))
		}
	}
	gone("forget")

	if r := runCmd(t, env, "", "enqueue", byID, erased[1]); r.err != nil || !strings.Contains(r.stdout, "2 erased (callsync forget) skipped") {
		t.Errorf("enqueue: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	gone("enqueue")
	for _, args := range [][]string{
		append([]string{"backfill"}, span...),
		append([]string{"backfill", "--refetch"}, span...),
		append([]string{"backfill", "--refetch", "--enrich"}, span...),
	} {
		r := runCmd(t, env, "", args...)
		if r.err != nil || !strings.Contains(r.stdout, "erased calls skipped") && !strings.Contains(r.stdout, "done before, skipped") {
			t.Errorf("%v: %v\n%s%s", args, r.err, r.stdout, r.stderr)
		}
		gone(strings.Join(args[:2], " "))
	}
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Errorf("once after backfill --enrich: %v\n%s", r.err, r.stderr)
	}
	gone("once")
	env["SYNC_POLL_LOOKBACK"] = "8760h" // the generated calls are months old
	if r := runCmd(t, env, "", "poll", "--model-id", model); r.err != nil || !strings.Contains(r.stdout, "erased calls skipped") {
		t.Errorf("poll: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	gone("poll")
	r = runCmd(t, env, "", append([]string{"verify", "--fix"}, span...)...)
	if r.err != nil || !strings.Contains(r.stdout, "0 differ") {
		t.Errorf("verify --fix reports erased calls missing: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	gone("verify --fix")

	// The webhook, as run serves it: accepted, not queued.
	env["SYNTHFLOW_WEBHOOK_SECRET"] = hookSecret
	f := newFlagSet("run", "run", env2(env))
	var wc webhookConfig
	wc.register(f)
	if err := f.parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := wc.load(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mux := http.NewServeMux()
	wc.mount(mux, store.New(pool), newTelemetry(), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	if code := post(t, hs.URL+wc.path, "application/json", payload(byID), signed(byID)); code != http.StatusOK {
		t.Errorf("webhook for an erased call: %d, want 200", code)
	}
	if !strings.Contains(logs.String(), "erased call skipped") {
		t.Errorf("webhook did not log the skip at debug level:\n%s", logs.String())
	}
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Errorf("once after the webhook: %v\n%s", r.err, r.stderr)
	}
	gone("webhook")
}

// TestForget_Usage refuses bad input with a clear error and erases nothing.
func TestForget_Usage(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 72, Calls: 1, Models: 1})...)
	env := intakeEnv(t, srv)
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
		code  int
	}{
		{[]string{"forget"}, "", "nothing to erase", 2},
		{[]string{"forget", "x1"}, "", "unexpected argument", 2},
		{[]string{"forget", "-"}, "\n# nothing\n", "nothing to erase", 2},
		{[]string{"forget", "--phone-number", "555 1234"}, "", "not E.164", 1},
		{[]string{"forget", "--call-id", "a b"}, "", "white space", 1},
		{[]string{"forget", "--call-id", "ok1", "--phone-number", "+1"}, "", "nothing erased", 1},
		{[]string{"forget", "--call-id", "ok1", "--hash-key", "0123456789abcdef"}, "", "SYNC_HASH_PHONE_NUMBERS is off", 2},
	} {
		r := runCmd(t, env, c.stdin, c.args...)
		if exitCode(r.err) != c.code || r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: err %v (exit %d), want exit %d naming %q", c.args, r.err, exitCode(r.err), c.code, c.want)
		}
		if strings.Contains(r.stdout+r.stderr+errString(r.err), "555 1234") {
			t.Errorf("%v: the phone number was echoed", c.args)
		}
	}
	if n := count(t, env["DATABASE_URL"], `SELECT (SELECT count(*) FROM erasures) + (SELECT count(*) FROM erased_calls)`); n != 0 {
		t.Errorf("bad requests left %d erasure rows", n)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func countArg(t *testing.T, pool *pgxpool.Pool, sql string, arg any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), sql, arg).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestForget_UnstoredIDWarnsAndUndoes: an id that names nothing stored is
// tombstoned, and forget says so and how to undo it; --undo removes that
// tombstone, never one of a call whose data was erased.
func TestForget_UnstoredIDWarnsAndUndoes(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 72, Calls: 5, Models: 1})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	dbURL := env["DATABASE_URL"]
	if r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-01", "--to", "2026-06-01"); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	stored := calls[0].ID()

	r := runCmd(t, env, "", "forget", "--call-id", "nonexistent-zzz", "--call-id", stored)
	if r.err != nil {
		t.Fatalf("forget: %v\n%s", r.err, r.stderr)
	}
	for _, want := range []string{
		"tombstoned nonexistent-zzz (not stored: nothing deleted)\n",
		"erased " + stored + "\n",
		"2 calls erased (1 were stored and are deleted",
		"warning: nothing was stored under 1 of these call ids: nonexistent-zzz\n",
		"block them from every future intake",
		"callsync forget --undo --call-id nonexistent-zzz\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("forget output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCmd(t, env, "", "forget", "--undo", "--call-id", "nonexistent-zzz")
	if r.err != nil || !strings.Contains(r.stdout, "tombstone removed nonexistent-zzz\n") {
		t.Fatalf("forget --undo: %v\n%s", r.err, r.stdout)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM erased_calls WHERE call_id = 'nonexistent-zzz'`); n != 0 {
		t.Errorf("the tombstone of the typo stayed")
	}
	if n := count(t, dbURL, `SELECT erased FROM erasures`); n != 1 {
		t.Errorf("the audit row counts %d erased calls after the undo, want 1", n)
	}

	// The erasure of stored data is not undone.
	r = runCmd(t, env, "", "forget", "--undo", "--call-id", stored)
	if r.err == nil || !strings.Contains(r.err.Error(), "1 ids keep their tombstone") {
		t.Fatalf("forget --undo of an erased call: err %v\n%s", r.err, r.stdout)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM erased_calls WHERE call_id = '`+stored+`'`); n != 1 {
		t.Errorf("the tombstone of an erased call went")
	}
	if r := runCmd(t, env, "", "forget", "--undo", "--phone-number", "+14155550100"); exitCode(r.err) != 2 {
		t.Errorf("forget --undo by phone number: err %v, want a usage error", r.err)
	}
}
