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
	p := newPassRunner("run", w.syncer, w.db, w.tel, logger, runsConfig{})
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
