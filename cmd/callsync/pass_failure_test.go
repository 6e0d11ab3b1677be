package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// logLines decodes run's JSON log lines.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line not JSON: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

// TestRun_FailedPassWaitsForTheNextTick (issue 19.10): with a URL that
// answers 404 to everything (no /v2) or a refused key, a pass failed, gave
// its rows back, and the rows it gave back woke the worker for the same
// failure again, every second or two, each pass spending requests and
// writing a sync_runs row, though the log promised "trying again at the
// next tick". Now a failed pass holds passes back until the next tick,
// and its one log line says why and what to do.
func TestRun_FailedPassWaitsForTheNextTick(t *testing.T) {
	for name, tc := range map[string]struct {
		url  func(*apitest.Server) string
		key  string
		hint string
	}{
		"WrongURL":   {func(s *apitest.Server) string { return strings.TrimSuffix(s.URL, "/v2") }, testKey, "does not lead to the Synthflow API"},
		"RefusedKey": {func(s *apitest.Server) string { return s.URL }, "sk-refused", "The API refused the key"},
	} {
		t.Run(name, func(t *testing.T) {
			calls := finalCalls(t, 23, 3)
			srv := fakeAPI(t, calls...)
			dbURL := storetest.NewDatabase(t)
			env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": tc.url(srv), "SYNTHFLOW_API_KEY": tc.key,
				"SYNTHFLOW_RATE_LIMIT": "0", "SYNC_SCHEDULE": "@every 1h", "HTTP_ADDR": "127.0.0.1:0", "SYNTHFLOW_WEBHOOK_PATH": "off",
				"LOG_FORMAT": "json", "LOG_LEVEL": "debug"}
			if r := runCmd(t, env, "", append([]string{"enqueue"}, callIDs(calls)...)...); r.err != nil {
				t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
			}
			_, logs := startRunLogged(t, env)
			waitFor(t, time.Minute, "the first pass to fail", func() bool {
				return count(t, dbURL, `SELECT count(*) FROM sync_runs`) >= 1
			})
			spent := srv.Counters().Total()
			// A call queued now wakes the worker: it must wait for the tick.
			if r := runCmd(t, env, "", "enqueue", "late-call"); r.err != nil {
				t.Fatalf("enqueue: %v", r.err)
			}
			waitFor(t, time.Minute, "the wake-up held back (or another pass)", func() bool {
				return strings.Contains(logs.String(), "no pass before the next tick") ||
					count(t, dbURL, `SELECT count(*) FROM sync_runs`) > 1
			})
			if n := count(t, dbURL, `SELECT count(*) FROM sync_runs`); n != 1 {
				t.Errorf("%d passes recorded with the schedule an hour away, want the 1 that failed", n)
			}
			if got := srv.Counters().Total(); got != spent {
				t.Errorf("%d requests after the failed pass, want none before the next tick", got-spent)
			}
			var failures int
			for _, rec := range logLines(t, logs.String()) {
				if rec["level"] != "ERROR" && rec["level"] != "WARN" {
					continue
				}
				failures++
				msg, _ := rec["msg"].(string)
				hint, _ := rec["hint"].(string)
				if !strings.Contains(msg, "sync pass failed; trying again at the next tick") || !strings.Contains(hint, tc.hint) {
					t.Errorf("log line %v, want the pass's failure with the hint %q", rec, tc.hint)
				}
				for k, v := range rec {
					if s, ok := v.(string); ok && strings.ContainsAny(s, "\n\t") {
						t.Errorf("log attribute %s holds a line break or tab: %q", k, s)
					}
				}
			}
			if failures != 1 {
				t.Errorf("%d warnings and errors logged, want one line for the one failed pass:\n%s", failures, logs)
			}
		})
	}
}

// TestRun_OutageLogsOneLinePerFailedPass (issue 22.9): while the database
// was down, each failed pass logged five lines, the same connection error
// in each, some split by embedded line breaks. Now a failed pass is one
// line (its cause, and that sync_runs will get it later), everything else
// is logged once per outage, /metrics counts the failures by cause,
// and the passes are recorded once the database is back.
func TestRun_OutageLogsOneLinePerFailedPass(t *testing.T) {
	pg, dbURL := ownServer(t)
	srv := fakeAPI(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNC_SCHEDULE": "@every 1s", "HTTP_ADDR": "127.0.0.1:0", "SYNTHFLOW_WEBHOOK_PATH": "off", "LOG_FORMAT": "json"}
	addr, logs := startRunLogged(t, env)
	waitFor(t, time.Minute, "a first pass recorded", func() bool {
		return count(t, dbURL, `SELECT count(*) FROM sync_runs`) >= 1
	})
	before := len(logLines(t, logs.String()))
	if err := pg.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	failedLines := func() int { return strings.Count(logs.String(), `"msg":"sync pass failed`) }
	waitFor(t, time.Minute, "three passes to fail", func() bool { return failedLines() >= 3 })
	waitFor(t, time.Minute, "the failures counted in /metrics", func() bool {
		_, body := get(t, "http://"+addr+metricsPath)
		return strings.Contains(body, `callsync_sync_pass_failures_total{cause="database"} `) &&
			!strings.Contains(body, `callsync_sync_pass_failures_total{cause="database"} 0`)
	})
	lines := logLines(t, logs.String())[before:]
	once := map[string]int{}
	for _, rec := range lines {
		for k, v := range rec {
			if s, ok := v.(string); ok && strings.ContainsAny(s, "\n\t") {
				t.Errorf("log attribute %s holds a line break or tab: %q", k, s)
			}
		}
		if rec["level"] != "ERROR" && rec["level"] != "WARN" {
			continue
		}
		msg, _ := rec["msg"].(string)
		if strings.HasPrefix(msg, "sync pass failed") {
			if rec["cause"] != "database" || rec["unrecorded"] == nil {
				t.Errorf("failed pass logged as %v, want cause=database and the unrecorded passes", rec)
			}
			continue
		}
		once[msg]++
	}
	for msg, n := range once {
		if n > 1 {
			t.Errorf("%q logged %d times during one outage, want once", msg, n)
		}
	}
	if err := pg.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the failed passes recorded once the database is back", func() bool {
		return count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE error <> ''`) >= 3
	})
}
