package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// TestVersion checks `callsync version` and `--version` on the binary
// built from this checkout: the module's build information names the
// commit, the same one build_info carries.
func TestVersion(t *testing.T) {
	out, code := execCmd(t, t.Context(), nil, "version")
	out2, code2 := execCmd(t, t.Context(), nil, "--version")
	if code != 0 || code2 != 0 || out != out2 || !strings.HasPrefix(out, "callsync ") || !strings.Contains(out, " go1.") {
		t.Fatalf("version: %d %q; --version: %d %q", code, out, code2, out2)
	}
	// A build with -buildvcs=true (go's default in a git checkout) names its
	// commit; .ci/run checks that on the image, built with -X flags.

	old := version
	version = "v1.2.3"
	defer func() { version = old }()
	r := runCmd(t, nil, "", "version")
	if r.err != nil || !strings.HasPrefix(r.stdout, "callsync v1.2.3") {
		t.Errorf("version with -X main.version=v1.2.3: %v %q", r.err, r.stdout)
	}
	m := gatherMetrics(t, newTelemetry())
	if m[`callsync_build_info{goversion="`+readBuildVersion().GoVersion+`",revision="`+readBuildVersion().Revision+`",version="v1.2.3"}`] != 1 {
		t.Errorf("callsync_build_info does not carry the version: %v", m)
	}
}

// gatherMetrics returns tel's metrics as series → value.
func gatherMetrics(t *testing.T, tel *telemetry) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.handler(slog.New(slog.NewTextHandler(io.Discard, nil))).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, metricsPath, nil))
	return parseMetrics(t, rec.Body.String())
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

// TestRun_ScheduleHint checks the hint for a schedule written without @.
func TestRun_ScheduleHint(t *testing.T) {
	r := runCmd(t, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "SYNTHFLOW_API_KEY": "k"}, "",
		"run", "--schedule", "every 5m")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), `did you mean "@every 5m"?`) {
		t.Errorf("run --schedule 'every 5m': %v", r.err)
	}
}

// TestLogJSON_Durations checks that JSON logs write durations as strings.
func TestLogJSON_Durations(t *testing.T) {
	var buf bytes.Buffer
	lc := logConfig{level: "info", format: "json", color: "0"}
	logger, err := lc.logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("x", "took", 1500*time.Millisecond)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["took"] != "1.5s" {
		t.Errorf("took = %#v (%v), want \"1.5s\"", rec["took"], err)
	}
}

// TestPassRunner_RecordsFailedPassOnceDatabaseIsBack runs a pass while the
// database is down, then one after it is back: sync_runs shows both, the
// failed one with its error, so sync_health counts the outage.
func TestPassRunner_RecordsFailedPassOnceDatabaseIsBack(t *testing.T) {
	ctx := t.Context()
	pg, dbURL := ownServer(t)
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 2})...)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ac := apiConfig{url: srv.URL, key: testKey, timeout: 5 * time.Second, rateLimit: 0, rateBurst: 1}
	w, err := openWorker(ctx, logger, dbConfig{url: dbURL}, &ac, callsync.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer w.db.Close()
	p := newPassRunner("run", w, logger, runsConfig{})
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.run(ctx); err == nil {
		t.Fatal("a pass with the database down succeeded")
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the database back", func() bool { return w.db.Ready(ctx) == nil })
	if _, err := p.run(ctx); err != nil {
		t.Fatal(err)
	}
	runs, err := w.db.RecentRuns(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[1].Error == "" || runs[0].Error != "" {
		t.Fatalf("sync_runs = %+v, want the failed pass then the good one", runs)
	}
	h, err := w.db.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.FailedPassesLast24h != 1 {
		t.Errorf("sync_health counts %d failed passes, want 1", h.FailedPassesLast24h)
	}
}

// TestRun_KeyRefusedStaysUpAndShows checks that `run` with a refused key
// keeps serving (webhooks still queue calls) and exposes the refusal from
// its first pass, so the alert can see it.
func TestRun_KeyRefusedStaysUpAndShows(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 4, Calls: 1})...)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": "wrong-key",
		"HTTP_ADDR": "127.0.0.1:0", "SYNC_SCHEDULE": "@every 1h", "LOG_FORMAT": "json"}
	addr := startRun(t, env, "--webhook-path=")
	if r := runCmd(t, env, "", "enqueue", "c1"); r.err != nil {
		t.Fatal(r.err)
	}
	var m map[string]float64
	waitFor(t, time.Minute, "callsync_api_key_refused 1", func() bool {
		_, body := get(t, "http://"+addr+metricsPath)
		m = parseMetrics(t, body)
		return m["callsync_api_key_refused"] == 1
	})
	if m[`callsync_sync_passes_total{result="failed"}`] < 1 {
		t.Errorf("the refused pass is not counted as failed: %v", m)
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

// TestMigrateUp_SaysWhatItDid checks migrate up's output on an empty
// database and on a migrated one.
func TestMigrateUp_SaysWhatItDid(t *testing.T) {
	env := map[string]string{"DATABASE_URL": storetest.NewEmptyDatabase(t), "LOG_LEVEL": "warn"}
	r := runCmd(t, env, "", "migrate", "up")
	if r.err != nil || !strings.Contains(r.stdout, "applied  00001  00001_create_calls.sql") ||
		!strings.Contains(r.stdout, "migrations applied; the database is at version") {
		t.Errorf("migrate up on an empty database: %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, env, "", "migrate", "up")
	if r.err != nil || !strings.HasPrefix(r.stdout, "nothing to apply: the database is at the latest version") {
		t.Errorf("migrate up again: %v\n%s", r.err, r.stdout)
	}
}

// TestStatus_Unmigrated checks the hint on a database without callsync's
// tables.
func TestStatus_Unmigrated(t *testing.T) {
	r := runCmd(t, map[string]string{"DATABASE_URL": storetest.NewEmptyDatabase(t)}, "", "status")
	if r.err == nil || !strings.Contains(r.err.Error(), "run 'callsync migrate up' first") {
		t.Errorf("status on an unmigrated database: %v", r.err)
	}
}

// TestStatus_WhyPending checks that status says why rows are pending, and
// shows the latest error of a pending call.
func TestStatus_WhyPending(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	if r := runCmd(t, env, "", "enqueue", "new-1", "poll-1", "retry-1", "held-1"); r.err != nil {
		t.Fatal(r.err)
	}
	pool := mustPool(t, dbURL)
	for _, q := range []string{
		`UPDATE sync_queue SET polls = 2 WHERE call_id = 'poll-1'`,
		`UPDATE sync_queue SET attempts = 1, last_error = 'attempt 1 of 8: HTTP 503' WHERE call_id = 'retry-1'`,
		`UPDATE sync_queue SET last_error = 'HTTP 429', updated_at = now() - interval '1 hour' WHERE call_id = 'held-1'`,
	} {
		if _, err := pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	r := runCmd(t, env, "", "status")
	for _, want := range []string{"1  new: not fetched yet", "1  waiting for a final status", "1  retrying after an error",
		"1  held back by a rate limit", "latest error of a pending call (retry-1", "attempt 1 of 8: HTTP 503"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestWebhookPath_Off checks that SYNTHFLOW_WEBHOOK_PATH=off turns the
// endpoint off (an empty variable means the default), and that the error
// for a missing secret advises it.
func TestWebhookPath_Off(t *testing.T) {
	load := func(env map[string]string) (webhookConfig, error) {
		f := newFlagSet("run", "run", env2(env))
		var c webhookConfig
		c.register(f)
		if err := f.parse(nil); err != nil {
			t.Fatal(err)
		}
		return c, c.load()
	}
	if c, err := load(map[string]string{"SYNTHFLOW_WEBHOOK_PATH": "off"}); err != nil || c.path != "" {
		t.Errorf("SYNTHFLOW_WEBHOOK_PATH=off: path %q, err %v", c.path, err)
	}
	if _, err := load(map[string]string{}); err == nil || !strings.Contains(err.Error(), "SYNTHFLOW_WEBHOOK_PATH=off") {
		t.Errorf("no secret: %v, want the advice SYNTHFLOW_WEBHOOK_PATH=off", err)
	}
}

// TestLogPass_IdleAtDebug checks that a pass with nothing to do logs at
// debug, so that an idle worker's log stays quiet at info.
func TestLogPass_IdleAtDebug(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	logPass(logger, callsync.Stats{}, time.Millisecond, 0, 0, nil, "")
	if buf.Len() != 0 {
		t.Errorf("an idle pass logs at info: %s", buf.String())
	}
	logPass(logger, callsync.Stats{Claimed: 1, Done: 1}, time.Millisecond, 0, 0, nil, "")
	if !strings.Contains(buf.String(), "sync pass done") {
		t.Errorf("a pass that did something is not logged at info: %q", buf.String())
	}
}

// TestPrintBackfill_Stopped checks a stopped backfill's summary: what this
// run finished, what was done before and what is left, and the dry run's
// wording.
func TestPrintBackfill_Stopped(t *testing.T) {
	var buf bytes.Buffer
	printBackfill(&buf, callsync.BackfillReport{Windows: 60, Skipped: 5, Done: 10, Calls: 70, Enqueued: 3}, 0, 0, false, nil)
	if want := "backfill: 10 of 60 windows read to the end in this run (5 done before, skipped), 45 left; 70 calls stored"; !strings.HasPrefix(buf.String(), want) {
		t.Errorf("summary %q, want it to start %q", buf.String(), want)
	}
	buf.Reset()
	printBackfill(&buf, callsync.BackfillReport{Windows: 2, Done: 2, Calls: 7, Enqueued: 3}, 0, 0, true, nil)
	if !strings.Contains(buf.String(), "7 calls listed (dry run: nothing written)") || !strings.Contains(buf.String(), "3 would be queued for a fetch") {
		t.Errorf("dry run summary %q", buf.String())
	}
}

// TestPoll_AllModelsAndRefusedKey checks poll --all-models, and that a
// refused key's summary still counts the models given.
func TestPoll_AllModelsAndRefusedKey(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 61, Calls: 30, Models: 2})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	r := runCmd(t, env, "", "poll", "--all-models")
	if r.err != nil || !strings.Contains(r.stdout, "poll: 2 of 2 models polled to the end") {
		t.Errorf("poll --all-models: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if r := runCmd(t, env, "", "poll", "--all-models", "--model-id", "m"); exitCode(r.err) != 2 {
		t.Errorf("poll --all-models --model-id: %v, want a usage error", r.err)
	}
	env["SYNTHFLOW_API_KEY"] = "wrong-key"
	r = runCmd(t, env, "", "poll", "--model-id", srv.Models()[0])
	if r.err == nil || !strings.Contains(r.stdout, "poll: 0 of 1 models polled to the end") {
		t.Errorf("poll with a refused key: %v\n%s", r.err, r.stdout)
	}
}
