package main

import (
	"strings"
	"testing"

	"github.com/callsync/callsync/store/storetest"
)

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
