package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storetest"
)

// httpAddrFrom finds the address that `run` logged it serves HTTP on
// (LOG_FORMAT=json).
// startRun starts `callsync run` in-process with env and args, stops it
// when t ends (failing t if it ended with an error), and returns the HTTP
// address it logged.
func startRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	addr, _ := startRunLogged(t, env, args...)
	return addr
}

// startRunLogged is startRun that also returns what run logs.
func startRunLogged(t *testing.T, env map[string]string, args ...string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"run"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v\n%s", err, stderr.String())
		}
	})
	var addr string
	waitFor(t, time.Minute, "the HTTP address in the log", func() bool {
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("run ended early: %v\n%s", err, stderr.String())
		default:
		}
		addr = httpAddrFrom(stderr.String())
		return addr != ""
	})
	return addr, &stderr
}

func httpAddrFrom(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving http" {
			return rec.Addr
		}
	}
	return ""
}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// parseMetrics reads the Prometheus text format into series → value, a
// series written as it is exposed, e.g. x_total{code="200",endpoint="get_call"}.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestRun_MetricsAndSyncRuns runs `callsync run --http-addr` over 20 calls,
// one answered first with a 500 and one with a 429, and checks /metrics,
// /healthz, /readyz and the sync_runs row against what the pass did.
func TestRun_MetricsAndSyncRuns(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 7, Calls: 20})
	srv := fakeAPI(t, calls...)
	srv.Script(calls[0].ID(), apitest.Step{Status: http.StatusInternalServerError})
	srv.Script(calls[1].ID(), apitest.Step{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "0", "HTTP_ADDR": "127.0.0.1:0", "SYNC_SCHEDULE": "@every 1h", "LOG_FORMAT": "json"}
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID()
	}
	if r := runCmd(t, env, "", append([]string{"enqueue"}, ids...)...); r.err != nil {
		t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
	}

	addr := startRun(t, env, "--webhook-path=")
	base := "http://" + addr
	var m map[string]float64
	waitFor(t, time.Minute, "the first pass, and the queue snapshot after it", func() bool {
		_, body := get(t, base+metricsPath)
		m = parseMetrics(t, body)
		return m[`callsync_sync_passes_total{result="ok"}`] == 1 && m[`callsync_queue_depth{state="done"}`] == 19
	})

	want := map[string]float64{
		`callsync_calls_synced_total{outcome="done"}`:                      19,
		`callsync_calls_synced_total{outcome="retrying"}`:                  1,
		`callsync_calls_synced_total{outcome="failed"}`:                    0,
		`callsync_calls_synced_total{outcome="polling"}`:                   0,
		`callsync_calls_synced_total{outcome="lost"}`:                      0,
		`callsync_api_requests_total{code="200",endpoint="get_call"}`:      19, // 18, and the 429's call again
		`callsync_api_requests_total{code="500",endpoint="get_call"}`:      1,
		`callsync_api_requests_total{code="429",endpoint="get_call"}`:      1,
		`callsync_api_request_duration_seconds_count{endpoint="get_call"}`: 21,
		`callsync_rate_limit_pauses_total`:                                 1,
		`callsync_write_rows_total`:                                        20,
		`callsync_sync_passes_total{result="failed"}`:                      0,
		`callsync_sync_pass_duration_seconds_count`:                        1,
		`callsync_queue_depth{state="done"}`:                               19,
		`callsync_queue_depth{state="pending"}`:                            1, // the 500, retried later
		`callsync_queue_depth{state="running"}`:                            0,
		`callsync_queue_depth{state="failed"}`:                             0,
		`callsync_queue_due`:                                               0,
		`callsync_queue_oldest_due_age_seconds`:                            0,
	}
	for series, v := range want {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("%s = %v (exposed: %v), want %v", series, got, ok, v)
		}
	}
	if _, ok := m["callsync_rate_limit_wait_seconds_total"]; !ok {
		t.Error("callsync_rate_limit_wait_seconds_total missing")
	}
	for _, series := range []string{"callsync_write_duration_seconds_count", "callsync_last_successful_pass_timestamp_seconds",
		"go_goroutines", "process_resident_memory_bytes"} {
		if m[series] <= 0 {
			t.Errorf("%s = %v, want more than 0", series, m[series])
		}
	}
	for _, name := range []string{"callsync_api_paused_until_timestamp_seconds", "callsync_api_pause_remaining_seconds"} {
		if _, ok := m[name]; !ok {
			t.Error(name + " missing")
		}
	}
	if code, body := get(t, base+healthzPath); code != http.StatusOK {
		t.Errorf("GET /healthz = %d %s", code, body)
	}
	if code, body := get(t, base+readyzPath); code != http.StatusOK || strings.TrimSpace(body) != "ready" {
		t.Errorf("GET /readyz = %d %s", code, body)
	}

	db, err := store.Open(t.Context(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := db.RecentRuns(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("sync_runs has %d rows, want 1: %+v", len(runs), runs)
	}
	r := runs[0]
	if r.Command != "run" || r.Worker == "" || r.Claimed != 20 || r.Synced != 19 || r.Requeued != 1 || r.Failed != 0 ||
		r.Lost != 0 || r.APIRequests != 21 || r.APIRateLimited != 1 || r.Error != "" || r.FinishedAt.Before(r.StartedAt) {
		t.Errorf("sync_runs row = %+v, want run: 20 claimed, 19 synced, 1 requeued, 21 requests, one 429", r)
	}
}

// TestOnce_RecordsSyncRun checks that `once` records its pass, a failed one
// with the error.
func TestOnce_RecordsSyncRun(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 3})
	srv := fakeAPI(t, calls...)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "0", "SYNC_RUNS_RETENTION": "48h"}
	runCmd(t, env, "", "enqueue", calls[0].ID(), calls[1].ID(), calls[2].ID())
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	env["SYNTHFLOW_API_KEY"] = "wrong-key"
	runCmd(t, env, "", "enqueue", calls[0].ID())
	if r := runCmd(t, env, "", "once"); r.err == nil {
		t.Fatal("once with a wrong key succeeded")
	}
	got := count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE command = 'once' AND claimed = 3 AND synced = 3
		AND api_requests = 3 AND api_rate_limited = 0 AND error IS NULL`)
	if got != 1 {
		t.Errorf("%d successful once runs with 3 synced, want 1", got)
	}
	got = count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE command = 'once' AND api_requests = 1 AND error LIKE '%refused the API key%'`)
	if got != 1 {
		t.Errorf("%d failed once runs with the error, want 1", got)
	}
}

// The pass summary says how long its requests waited for the rate
// limiter, summed over requests: at a limit that binds, about the fetch
// workers' whole time.
func TestOnce_LogsRateWait(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 4, Calls: 12})
	srv := fakeAPI(t, calls...)
	dbURL := storetest.NewDatabase(t)
	// 600 a minute (9.6 a second with the margin), a burst of 2: the 12
	// calls take about a second, 8 requests waiting all along.
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "600", "LOG_FORMAT": "json"}
	runCmd(t, env, "", append([]string{"enqueue"}, callIDs(calls)...)...)
	r := runCmd(t, env, "", "once")
	if r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	var summary struct {
		Took     string `json:"took"`
		RateWait string `json:"rate_wait"`
		Done     int    `json:"done"`
	}
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, `"msg":"sync pass done"`) {
			if err := json.Unmarshal([]byte(line), &summary); err != nil {
				t.Fatal(err)
			}
		}
	}
	took, err1 := time.ParseDuration(summary.Took)
	wait, err2 := time.ParseDuration(summary.RateWait)
	if err1 != nil || err2 != nil || summary.Done != len(calls) {
		t.Fatalf("pass summary took=%q rate_wait=%q done=%d, want %d done:\n%s", summary.Took, summary.RateWait,
			summary.Done, len(calls), r.stderr)
	}
	// 10 of the 12 requests wait for a token, each of them 0.1 s or more
	// after the one before; none waits longer than the pass.
	t.Logf("pass of %v, rate_wait %v", took, wait)
	if wait < 2*time.Second || wait > 8*took {
		t.Errorf("rate_wait %v in a pass of %v, want at least 2 s and at most 8 workers' whole time", wait, took)
	}
}

func TestRunsRetention_Invalid(t *testing.T) {
	r := runCmd(t, map[string]string{"SYNC_RUNS_RETENTION": "30 days"}, "", "once")
	if r.err == nil || !strings.Contains(r.err.Error(), "SYNC_RUNS_RETENTION") {
		t.Errorf("once with SYNC_RUNS_RETENTION=\"30 days\": %v, want an error naming the variable", r.err)
	}
	r = runCmd(t, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "SYNTHFLOW_API_KEY": "k"}, "",
		"run", "--runs-retention", "-1h")
	if r.err == nil || !strings.Contains(r.err.Error(), "--runs-retention") || exitCode(r.err) != 2 {
		t.Errorf("run --runs-retention -1h: %v, want a usage error naming the flag", r.err)
	}
}

// testSnapshot returns a queue snapshot of db, logging into logs, read once.
func testSnapshot(t *testing.T, db *store.DB, logs io.Writer) *queueSnapshot {
	t.Helper()
	snap := newQueueSnapshot(db, slog.New(slog.NewTextHandler(logs, nil)))
	snap.refresh(t.Context())
	return snap
}

// TestReadyz_DatabaseDownAndBack stops and restarts a throwaway server
// under the /readyz handler. The answer says "not ready" and nothing about
// the database (user, host, port, name); the log says why.
func TestReadyz_DatabaseDownAndBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg, err := pgserver.Start(ctx, pgserver.Options{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := pg.Close(); err != nil {
			t.Error(err)
		}
	}()
	db, err := openStore(ctx, dbConfig{url: pg.URL("postgres")}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var logs lockedBuffer
	snap := testSnapshot(t, db, &logs)
	h := readyHandler(snap)
	ready := func() (int, string) {
		snap.refresh(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, readyzPath, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("/readyz with the database up = %d %s", code, body)
	}
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	code, body := ready()
	if code != http.StatusServiceUnavailable || strings.TrimSpace(body) != "not ready" {
		t.Fatalf("/readyz with the database down = %d %q, want 503 \"not ready\"", code, body)
	}
	if !strings.Contains(logs.String(), "database unreachable") {
		t.Fatalf("the log does not say why:\n%s", logs.String())
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool drops its dead connections as it meets them and reconnects.
	waitFor(t, time.Minute, "/readyz to recover", func() bool { code, _ := ready(); return code == http.StatusOK })
}

func TestReadyz_MigrationsPending(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, storetest.NewDatabase(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MigrateDown(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	rec := httptest.NewRecorder()
	readyHandler(testSnapshot(t, db, &logs)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, readyzPath, nil))
	if rec.Code != http.StatusServiceUnavailable || strings.TrimSpace(rec.Body.String()) != "not ready" ||
		!strings.Contains(logs.String(), "migrations pending") {
		t.Errorf("/readyz with a migration rolled back = %d %q (log %q), want 503 and the log naming the pending migrations",
			rec.Code, rec.Body.String(), logs.String())
	}
}

// TestQueueSnapshot_StopEndsTheRefreshing checks that stop returns, while
// the context the snapshot was opened with lives on, only once the
// refreshing has ended and its pool is closed: nothing it started outlives
// the command that opened it.
func TestQueueSnapshot_StopEndsTheRefreshing(t *testing.T) {
	snap, stop, err := openQueueSnapshot(t.Context(), dbConfig{url: storetest.NewDatabase(t)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.ready(); err != nil {
		t.Fatalf("first reading: %v, want ready", err)
	}
	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("stop did not return")
	}
	if err := snap.db.Ready(t.Context()); err == nil {
		t.Fatal("the snapshot's pool still answers after stop")
	}
}

// TestTelemetry_ScrapesCostNoDatabaseWork: /metrics and
// /readyz answer from the snapshot: with the snapshot's connection gone,
// scrapes still get the queue gauges and probes still get "ready" until the
// snapshot is stale. A scrape that read the database would fail here.
func TestTelemetry_ScrapesCostNoDatabaseWork(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	db, err := store.Open(t.Context(), dbURL, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Enqueue(t.Context(), []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	snap := testSnapshot(t, db, io.Discard)
	db.Close() // from now on, any database work fails
	tel := newTelemetry()
	mux := http.NewServeMux()
	mountTelemetry(mux, snap, tel, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for range 50 {
		_, body := get(t, srv.URL+metricsPath)
		if m := parseMetrics(t, body); m[`callsync_queue_depth{state="pending"}`] != 3 {
			t.Fatalf("callsync_queue_depth{state=\"pending\"} = %v, want 3 from the snapshot", m[`callsync_queue_depth{state="pending"}`])
		}
		if code, body := get(t, srv.URL+readyzPath); code != http.StatusOK {
			t.Fatalf("GET /readyz = %d %s, want 200 from the snapshot", code, body)
		}
	}
}

// gatherMetrics returns tel's metrics as series → value.
func gatherMetrics(t *testing.T, tel *telemetry) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.handler(slog.New(slog.NewTextHandler(io.Discard, nil))).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, metricsPath, nil))
	return parseMetrics(t, rec.Body.String())
}
