package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// capture is what a test captured from the processes it ran.
type capture struct {
	t       *testing.T
	entries []string // "label\noutput"
}

func (tr *capture) add(label, out string) {
	tr.entries = append(tr.entries, label+"\n"+out)
}

// exec runs the binary, records its output under label and checks its
// exit code.
func (tr *capture) exec(label string, env map[string]string, wantCode int, args ...string) string {
	tr.t.Helper()
	ctx, cancel := context.WithTimeout(tr.t.Context(), 2*time.Minute)
	defer cancel()
	out, code := execCmd(tr.t, ctx, env, args...)
	tr.add(label, out)
	if code != wantCode {
		tr.t.Errorf("%s: exit %d, want %d\n%s", label, code, wantCode, out)
	}
	return out
}

// leaks returns the label and line of every captured line holding one of
// the secrets.
func (tr *capture) leaks(secrets ...string) []string {
	var found []string
	for _, e := range tr.entries {
		label, out, _ := strings.Cut(e, "\n")
		for line := range strings.Lines(out) {
			for _, s := range secrets {
				if strings.Contains(line, s) {
					found = append(found, fmt.Sprintf("%s: %s", label, strings.TrimSpace(line)))
				}
			}
		}
	}
	return found
}

// dumpDatabase returns every row of every table of the database at dbURL
// as text, one entry per table.
func dumpDatabase(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	rows, err := conn.Query(t.Context(), `
		SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
		WHERE  table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	dump := map[string]string{}
	for _, table := range tables {
		rows, err := conn.Query(t.Context(), `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		dump[table] = strings.Join(lines, "\n")
	}
	return dump
}

// TestSecrets_APIKeyNeverShown runs every command that touches the API key,
// with the key from SYNTHFLOW_API_KEY and from SYNTHFLOW_API_KEY_FILE, at
// debug level, through success and every failure path, and then greps all
// they printed and every row of the database for the key.
func TestSecrets_APIKeyNeverShown(t *testing.T) {
	t.Parallel()
	random := make([]byte, 12)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	core := hex.EncodeToString(random)
	key := "sk-live-" + core
	keyFile := filepath.Join(t.TempDir(), "synthflow-key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each source of the key, and the mistakes, on a fake API and a
	// database of their own, side by side: most of the time goes to
	// processes starting and to the 429's pause, not to the CPU.
	for _, source := range []struct {
		name string
		env  map[string]string
	}{
		{"env", map[string]string{"SYNTHFLOW_API_KEY": key, "LOG_FORMAT": "text"}},
		{"file", map[string]string{"SYNTHFLOW_API_KEY_FILE": keyFile, "LOG_FORMAT": "json"}},
	} {
		t.Run(source.name, func(t *testing.T) {
			t.Parallel()
			srv, dbURL, calls := secretsFixture(t, key)
			tr := &capture{t: t}
			secretsEveryCommand(t, tr, srv, dbURL, calls, key, source.name, source.env)
			checkNoSecret(t, tr, dbURL, key, core, true)
		})
	}
	t.Run("mistakes", func(t *testing.T) {
		t.Parallel()
		srv, dbURL, calls := secretsFixture(t, key)
		tr := &capture{t: t}
		secretsMistakes(t, tr, srv, dbURL, calls, key, core, keyFile)
		checkNoSecret(t, tr, dbURL, key, core, false)
	})
}

// secretsFixture serves 12 final calls behind key from a fake API and
// returns it with a database of the test's own.
func secretsFixture(t *testing.T, key string) (*apitest.Server, string, []apitest.Call) {
	t.Helper()
	calls := finalCalls(t, 51, 12)
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, storetest.NewDatabase(t), calls
}

// checkNoSecret fails t when the key shows in what tr captured or in any
// row of the database; limiterUsed says the shared limiter must have
// written its bucket.
func checkNoSecret(t *testing.T, tr *capture, dbURL, key, core string, limiterUsed bool) {
	t.Helper()
	if leaks := tr.leaks(key, core); len(leaks) > 0 {
		t.Errorf("the API key was shown:\n%s", strings.Join(leaks, "\n"))
	}
	dump := dumpDatabase(t, dbURL)
	if limiterUsed && dump["public.api_limits"] == "" {
		t.Error("api_limits is empty: the shared limiter was not exercised")
	}
	for table, rows := range dump {
		if strings.Contains(rows, core) {
			t.Errorf("table %s holds the API key", table)
		}
	}
	if t.Failed() {
		t.Logf("captured:\n%.20000s", strings.Join(tr.entries, "\n\n"))
	}
}

// secretsEveryCommand runs every command that touches the key, with the key
// from sourceEnv, through success and every failure path.
func secretsEveryCommand(t *testing.T, tr *capture, srv *apitest.Server, dbURL string, calls []apitest.Call, key, source string,
	sourceEnv map[string]string) {
	t.Helper()
	deadDB := "postgres://postgres@127.0.0.1:1/warehouse?connect_timeout=2"
	ids := append(callIDs(calls), "missing-call-1", "bad id")
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "LOG_LEVEL": "debug",
		"SYNTHFLOW_RATE_LIMIT": "6000", "SYNC_MAX_ATTEMPTS": "1", "SYNC_SCHEDULE": "@every 1h"}
	for k, v := range sourceEnv {
		env[k] = v
	}
	with := func(k, v string) map[string]string {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		e[k] = v
		return e
	}
	label := func(s string) string { return source + ": " + s }

	tr.exec(label("enqueue with a malformed id"), env, 1, append([]string{"enqueue"}, ids...)...)
	srv.Script(calls[0].ID(), apitest.Step{Status: http.StatusServiceUnavailable})
	srv.Script(calls[1].ID(), apitest.Step{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})
	srv.Script(calls[2].ID(), apitest.Step{Status: http.StatusOK, Body: "<html>bad gateway</html>"})
	srv.Script(calls[3].ID(), apitest.Step{Fault: apitest.FaultReset}, apitest.Step{Fault: apitest.FaultReset})
	tr.exec(label("once with failures"), env, 0, "once")
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'done'`); n < len(calls)-4 {
		t.Fatalf("%s: only %d calls synced: the key was not used", source, n)
	}
	tr.exec(label("status"), env, 0, "status")
	tr.exec(label("retry-failed"), env, 0, "retry-failed")
	tr.exec(label("once --help"), env, 0, "once", "--help")
	tr.exec(label("run --help"), env, 0, "run", "--help")
	tr.exec(label("once with a bad flag"), env, 2, "once", "--no-such-flag")

	srv.SetAPIKey("another-key")
	tr.exec(label("once with the key refused"), env, 1, "once")
	srv.SetAPIKey(key)

	p := startProc(t, env, "run")
	waitFor(t, 2*time.Minute, "run's first pass", func() bool {
		return strings.Contains(p.out.String(), "sync pass done") || p.exited()
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(t, time.Minute); code != 0 {
		t.Errorf("%s: run exited %d:\n%s", source, code, p.out)
	}
	tr.add(label("run"), p.out.String())

	tr.exec(label("bad API URL"), with("SYNTHFLOW_API_URL", "api.synthflow.ai/v2"), 2, "once")
	tr.exec(label("enqueue for an unreachable API"), env, 0, "enqueue", calls[4].ID())
	// An unreachable host fails the pass (no attempt counted) and once exits 1.
	tr.exec(label("unreachable API"), with("SYNTHFLOW_API_URL", "http://127.0.0.1:1/v2"), 1, "once")
	for _, args := range [][]string{{"once"}, {"run"}, {"status"}, {"retry-failed"}, {"enqueue", calls[5].ID()}} {
		tr.exec(label(args[0]+" with the database down"), with("DATABASE_URL", deadDB), 1, args...)
	}
}

// secretsMistakes runs the commands with the key's settings wrong.
func secretsMistakes(t *testing.T, tr *capture, srv *apitest.Server, dbURL string, calls []apitest.Call, key, core, keyFile string) {
	t.Helper()
	// Mistakes with the key's settings.
	base := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "LOG_LEVEL": "debug"}
	mistake := func(label string, extra map[string]string, wantCode int, args ...string) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		tr.exec(label, env, wantCode, args...)
	}
	mistake("key set as the key file", map[string]string{"SYNTHFLOW_API_KEY_FILE": key}, 2, "once")
	mistake("key and key file", map[string]string{"SYNTHFLOW_API_KEY": key, "SYNTHFLOW_API_KEY_FILE": keyFile}, 2, "once")
	mistake("key as a flag with a bad flag", nil, 2, "once", "--api-key", key, "--no-such-flag")
	brokenFile := filepath.Join(t.TempDir(), "broken-key")
	if err := os.WriteFile(brokenFile, []byte("sk-first-"+core+"\nsk-second-"+core+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr.exec("enqueue for a broken key file", base, 0, "enqueue", calls[6].ID())
	mistake("key file of two lines", map[string]string{"SYNTHFLOW_API_KEY_FILE": brokenFile, "SYNTHFLOW_RATE_LIMIT": "0"}, 0, "once")
}
