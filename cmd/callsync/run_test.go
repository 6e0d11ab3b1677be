package main

import (
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// TestRun_ScheduleHint checks the hint for a schedule written without @.
func TestRun_ScheduleHint(t *testing.T) {
	r := runCmd(t, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "SYNTHFLOW_API_KEY": "k"}, "",
		"run", "--schedule", "every 5m")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), `did you mean "@every 5m"?`) {
		t.Errorf("run --schedule 'every 5m': %v", r.err)
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
