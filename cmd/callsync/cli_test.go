package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

const testKey = "sk-cli-test-secret"

func fakeAPI(t *testing.T, calls ...apitest.Call) *apitest.Server {
	t.Helper()
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func count(t *testing.T, dbURL, sql string) int {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOnce_OfficialExample syncs the API reference's example call through
// the real binary: enqueue, then once.
func TestOnce_OfficialExample(t *testing.T) {
	body, err := os.ReadFile("../../api/testdata/get-call.json")
	if err != nil {
		t.Fatal(err)
	}
	call, err := apitest.ParseCall(body)
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeAPI(t, call)
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey, "SYNTHFLOW_RATE_LIMIT": "0"}
	if out, code := execCmd(t, t.Context(), env, "enqueue", call.ID()); code != 0 || !strings.Contains(out, "enqueued 1 new") {
		t.Fatalf("enqueue: exit %d\n%s", code, out)
	}
	out, code := execCmd(t, t.Context(), env, "once")
	if code != 0 {
		t.Fatalf("once: exit %d\n%s", code, out)
	}
	db := env["DATABASE_URL"]
	checks := map[string]int{
		`SELECT count(*) FROM calls WHERE started_at = '2024-07-29 13:41:55Z' AND duration_seconds = 108 AND status = 'completed'`: 1,
		`SELECT count(*) FROM transcript_lines`:                                                                                      29,
		`SELECT count(*) FROM transcript_lines WHERE speaker = 'bot'`:                                                                23,
		`SELECT count(*) FROM transcript_lines WHERE speaker = 'human'`:                                                              6,
		`SELECT count(*) FROM (SELECT line_no, row_number() OVER (ORDER BY line_no) AS n FROM transcript_lines) x WHERE line_no = n`: 29,
		`SELECT count(*) FROM collected_variables WHERE agent_id = 'agent_123' AND name = 'user_name' AND value = '"Julian"'`:        1,
		`SELECT count(*) FROM collected_variables WHERE agent_id = 'agent_123' AND name = 'appointment_date' AND value = '{}'`:       1,
		`SELECT count(*) FROM call_telephony WHERE duration_ms = 66000 AND ringing_duration_ms = 15000`:                              1,
		`SELECT count(*) FROM sync_queue WHERE state = 'done'`:                                                                       1,
		// The pass folded the rollups: the call's day is in them, nothing is left to fold.
		`SELECT count(*) FROM daily_call_stats_rollup WHERE calls = 1`: 1,
		`SELECT count(*) FROM rollup_dirty`:                            0,
	}
	for sql, want := range checks {
		if got := count(t, db, sql); got != want {
			t.Errorf("%s = %d, want %d", sql, got, want)
		}
	}
	if strings.Contains(out, testKey) {
		t.Error("output shows the API key")
	}
}

func TestOnce_Unauthorized(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 3})
	srv := fakeAPI(t, calls...)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": "wrong-key-123"}
	execCmd(t, t.Context(), env, "enqueue", calls[0].ID(), calls[1].ID())
	out, code := execCmd(t, t.Context(), env, "once")
	if code == 0 {
		t.Fatalf("once with a wrong key exited 0:\n%s", out)
	}
	for _, want := range []string{"SYNTHFLOW_API_KEY", "SYNTHFLOW_API_URL", "401"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wrong-key-123") {
		t.Error("output shows the API key")
	}
	if got := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'pending' AND attempts = 0`); got != 2 {
		t.Errorf("%d rows pending and untouched, want 2", got)
	}
}

func TestEnqueue_Stdin(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	r := runCmd(t, env, "a1\r\n\n# comment\n  b2  \na1\nbad id\nc/3\n", "enqueue", "-")
	if r.err == nil || !strings.Contains(r.err.Error(), "2 malformed") {
		t.Fatalf("err = %v, want 2 malformed ids reported", r.err)
	}
	if !strings.Contains(r.stdout, "enqueued 2 new, 0 again, 1 duplicates ignored, 2 rejected") {
		t.Errorf("stdout = %q", r.stdout)
	}
	if !strings.Contains(r.stderr, `"bad id" contains white space`) || !strings.Contains(r.stderr, `"c/3" contains '/'`) {
		t.Errorf("stderr = %q, want each rejected id with its reason", r.stderr)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM sync_queue`); got != 2 {
		t.Errorf("queued %d, want 2", got)
	}
}

func TestCLI_UsageErrors(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"NoCommand", nil, nil, "no command"},
		{"UnknownCommand", nil, []string{"sink"}, `unknown command "sink"`},
		{"NoDatabase", map[string]string{"SYNTHFLOW_API_KEY": "k"}, []string{"once"}, "DATABASE_URL"},
		{"NoAPIKey", map[string]string{"DATABASE_URL": dbURL}, []string{"once"}, "SYNTHFLOW_API_KEY"},
		{"KeyAndKeyFile", map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_KEY": "k", "SYNTHFLOW_API_KEY_FILE": "/x"}, []string{"once"}, "not both"},
		{"MissingKeyFile", map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_KEY_FILE": "/nonexistent/key"}, []string{"once"}, "SYNTHFLOW_API_KEY_FILE"},
		{"BadAPIURL", map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_KEY": "k", "SYNTHFLOW_API_URL": "api.synthflow.ai"}, []string{"once"}, "SYNTHFLOW_API_URL"},
		{"BadEnvNumber", map[string]string{"SYNC_BATCH_SIZE": "lots"}, []string{"once"}, `SYNC_BATCH_SIZE="lots"`},
		{"BadEnvDuration", map[string]string{"SYNC_LEASE": "5"}, []string{"run"}, `SYNC_LEASE="5"`},
		{"BadFlag", nil, []string{"once", "--no-such-flag"}, "no-such-flag"},
		{"OutOfRange", map[string]string{"SYNTHFLOW_API_KEY": "k", "DATABASE_URL": dbURL}, []string{"once", "--concurrency", "0"}, "concurrency"},
		{"BadLogLevel", map[string]string{"LOG_LEVEL": "loud"}, []string{"status"}, "--log-level"},
		{"BadSchedule", map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_KEY": "k"}, []string{"run", "--schedule", "every minute"}, "--schedule"},
		{"EnqueueNothing", map[string]string{"DATABASE_URL": dbURL}, []string{"enqueue"}, "no call ids"},
		{"MigrateNoAction", map[string]string{"DATABASE_URL": dbURL}, []string{"migrate"}, "want one of up, down, status"},
		{"MigrateBadAction", map[string]string{"DATABASE_URL": dbURL}, []string{"migrate", "sideways"}, "unknown action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.env, "", tt.args...)
			var ue *usageError
			if !errors.As(r.err, &ue) {
				t.Fatalf("err = %v, want a usage error", r.err)
			}
			if !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", r.err, tt.want)
			}
			if exitCode(r.err) != 2 {
				t.Errorf("exit code %d, want 2", exitCode(r.err))
			}
		})
	}
}

func TestCLI_Help(t *testing.T) {
	for _, c := range commands {
		r := runCmd(t, nil, "", c.name, "--help")
		if !errors.Is(r.err, flag.ErrHelp) {
			t.Errorf("%s --help: err = %v", c.name, r.err)
		}
		if !strings.Contains(r.stderr, "Usage: callsync "+c.name) {
			t.Errorf("%s --help printed %q", c.name, r.stderr)
		}
	}
	if r := runCmd(t, nil, "", "--help"); r.err != nil || !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("--help: %v %q", r.err, r.stdout)
	}
}

// TestCLI_HelpAligned: every summary in the command list starts in the same
// column, whatever the length of the longest command name.
func TestCLI_HelpAligned(t *testing.T) {
	r := runCmd(t, nil, "", "--help")
	col := -1
	for _, c := range commands {
		var line string
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, "  "+c.name+" ") {
				line = l
			}
		}
		at := strings.Index(line, c.summary)
		if line == "" || at < 0 {
			t.Fatalf("--help has no line for %s:\n%s", c.name, r.stdout)
		}
		if col < 0 {
			col = at
		}
		if at != col {
			t.Errorf("summary of %s starts at column %d, want %d:\n%s", c.name, at, col, r.stdout)
		}
	}
}

func TestCLI_DatabaseDown(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://postgres:pw-secret@127.0.0.1:1/x?connect_timeout=2", "SYNTHFLOW_API_KEY": "k"}
	r := runCmd(t, env, "", "once")
	if r.err == nil || !strings.Contains(r.err.Error(), "connect to database") {
		t.Fatalf("err = %v, want a connection error", r.err)
	}
	if strings.Contains(r.err.Error(), "pw-secret") {
		t.Errorf("error shows the database password: %v", r.err)
	}
}

func TestMigrateAndStatus(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	r := runCmd(t, env, "", "migrate", "status")
	if r.err != nil || !strings.Contains(r.stdout, "applied  00001_create_calls.sql") {
		t.Fatalf("migrate status: %v\n%s", r.err, r.stdout)
	}
	if r := runCmd(t, env, "", "migrate", "down", "--all"); r.err != nil {
		t.Fatal(r.err)
	}
	if r := runCmd(t, env, "", "migrate", "status"); strings.Contains(r.stdout, "applied") {
		t.Fatalf("after down --all:\n%s", r.stdout)
	}
	if r := runCmd(t, env, "", "migrate", "up"); r.err != nil {
		t.Fatal(r.err)
	}
	runCmd(t, env, "", "enqueue", "x1", "x2")
	r = runCmd(t, env, "", "status")
	if r.err != nil || !strings.Contains(r.stdout, "pending  2") || !strings.Contains(r.stdout, "due now: 2") {
		t.Fatalf("status: %v\n%s", r.err, r.stdout)
	}
}

func TestRun_SIGTERM(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 2, Calls: 20})
	srv := fakeAPI(t, calls...)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey, "SYNTHFLOW_RATE_LIMIT": "0",
		"SYNC_SCHEDULE": "@every 1h", "LOG_FORMAT": "json"}
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID()
	}
	execCmd(t, t.Context(), env, append([]string{"enqueue"}, ids...)...)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	done := make(chan struct{})
	var out string
	var code int
	cmd := make(chan *os.Process, 1)
	go func() {
		defer close(done)
		out, code = execWithProcess(t, ctx, env, cmd, "run")
	}()
	proc := <-cmd
	if proc == nil {
		t.Fatal("run did not start")
	}
	// The first pass runs at start: wait for it to store every call.
	waitFor(t, 60*time.Second, "the first pass to store every call", func() bool {
		return count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'done'`) >= len(calls)
	})
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-done
	if code != 0 {
		t.Fatalf("run exited %d after SIGTERM:\n%s", code, out)
	}
	if !strings.Contains(out, `"msg":"callsync stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", out)
	}
}

func TestHelp_HidesSecretsFromTheEnvironment(t *testing.T) {
	env := map[string]string{"SYNTHFLOW_API_KEY": "sk-help-secret", "SYNTHFLOW_WEBHOOK_SECRET": "whsec-help-secret",
		"DATABASE_URL": "postgres://u:dbpw-help-secret@h/d"}
	for _, c := range commands {
		r := runCmd(t, env, "", c.name, "--help")
		for _, secret := range []string{"sk-help-secret", "whsec-help-secret", "dbpw-help-secret"} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("%s --help shows %s", c.name, secret)
			}
		}
	}
}

// TestCLI_SmallLeaks: a secret pasted into a *_FILE
// variable is not printed; validation errors name the flag and the
// variable.
func TestCLI_SmallLeaks(t *testing.T) {
	const pasted = "whsec-pasted-instead-of-a-path"
	env := map[string]string{"DATABASE_URL": "postgres://unused", "SYNTHFLOW_API_KEY": "k-123456",
		"HTTP_ADDR": "127.0.0.1:0", "SYNTHFLOW_WEBHOOK_SECRET_FILE": pasted}
	r := runCmd(t, env, "", "run")
	if r.err == nil || strings.Contains(r.err.Error()+r.stderr, pasted) || !strings.Contains(r.err.Error(), "SYNTHFLOW_WEBHOOK_SECRET_FILE") {
		t.Fatalf("err = %v (stderr %q), want an error naming the variable, not its value", r.err, r.stderr)
	}
	for _, c := range []struct {
		args      []string
		flag, env string
	}{
		{[]string{"once", "--lease", "5s"}, "--lease", "SYNC_LEASE"},
		{[]string{"once", "--concurrency", "-3"}, "--concurrency", "SYNC_CONCURRENCY"},
		{[]string{"once", "--retry-base", "2h", "--retry-max", "1h"}, "--retry-base", "SYNC_RETRY_MAX"},
		{[]string{"once", "--api-timeout", "0s"}, "--api-timeout", "SYNTHFLOW_API_TIMEOUT"},
		{[]string{"run", "--webhook-cooldown", "-1m", "--http-addr", "127.0.0.1:0", "--webhook-secret", "s-123456"}, "--webhook-cooldown", "SYNTHFLOW_WEBHOOK_COOLDOWN"},
	} {
		r := runCmd(t, map[string]string{"DATABASE_URL": "postgres://unused", "SYNTHFLOW_API_KEY": "k-123456"}, "", c.args...)
		if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), c.flag) || !strings.Contains(r.err.Error(), c.env) {
			t.Errorf("%v: err = %v, want a usage error naming %s and %s", c.args, r.err, c.flag, c.env)
		}
	}
}

// TestHelpCommand checks that `help CMD` prints CMD's flags, on stdout.
func TestHelpCommand(t *testing.T) {
	r := runCmd(t, nil, "", "help", "once")
	if !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stdout, "Usage: callsync once") ||
		!strings.Contains(r.stdout, "-batch-size") || !strings.Contains(r.stdout, "Runs one sync pass") {
		t.Errorf("help once: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "", "help", "nosuch"); exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), `unknown command "nosuch"`) {
		t.Errorf("help nosuch: %v", r.err)
	}
	r = runCmd(t, nil, "", "--help")
	if strings.Contains(r.stdout, "every flag has an environment variable") {
		t.Errorf("help claims every flag has an environment variable; some have none:\n%s", r.stdout)
	}
}

// TestCLI_FlagErrorIsShort checks that a bad flag value gets one line that
// names the flag and what it wants, not the command's whole usage.
func TestCLI_FlagErrorIsShort(t *testing.T) {
	r := runCmd(t, nil, "", "backfill", "--window", "1d")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), `--window "1d": want a duration such as 90s, 30m or 24h`) {
		t.Errorf("--window 1d: %v", r.err)
	}
	if strings.Contains(r.stderr, "Usage:") || strings.Count(r.stderr, "\n") > 1 {
		t.Errorf("--window 1d printed the usage:\n%s", r.stderr)
	}
	r = runCmd(t, nil, "", "once", "--nosuch")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "Run 'callsync help once' for its flags.") || strings.Contains(r.stderr, "Usage:") {
		t.Errorf("once --nosuch: %v\n%s", r.err, r.stderr)
	}
}
