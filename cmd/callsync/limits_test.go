package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// TestOnce_RetryAfterOfYearsIsBounded (issue 19.1): a 429 asking for ten
// years once paused every process sharing the key until 2036 and put the
// call off as long. Now the pause and the call's delay are at most
// store.MaxPause, the pass summary shows the pause, status shows it, and
// `callsync limits clear` ends it.
func TestOnce_RetryAfterOfYearsIsBounded(t *testing.T) {
	calls := finalCalls(t, 19, 1)
	srv := fakeAPI(t, calls...)
	srv.SetFaults(apitest.Faults{TooManyRequestsRate: 1, RetryAfter: 10 * 365 * 24 * time.Hour})
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey}
	if r := runCmd(t, env, "", "enqueue", calls[0].ID()); r.err != nil {
		t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
	}
	r := runCmd(t, env, "", "once")
	if r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "api_paused_for=") {
		t.Errorf("the pass summary does not show the pause:\n%s", r.stderr)
	}
	limit := int((store.MaxPause + 10*time.Second).Seconds())
	if n := count(t, dbURL, `SELECT count(*) FROM api_limits WHERE paused_until > now() + interval '1 second' * `+strconv.Itoa(limit)); n != 0 {
		t.Errorf("%d shared pauses end more than %v from now", n, store.MaxPause)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE next_attempt_at > now() + interval '1 second' * `+strconv.Itoa(limit)); n != 0 {
		t.Errorf("the call is put off for more than %v", store.MaxPause)
	}

	st := runCmd(t, env, "", "status")
	if st.err != nil || !strings.Contains(st.stdout, "API requests paused after a 429") {
		t.Errorf("status does not show the pause (%v):\n%s", st.err, st.stdout)
	}
	cl := runCmd(t, env, "", "limits", "clear")
	if cl.err != nil || !strings.Contains(cl.stdout, "1 pause(s) cleared") || !strings.Contains(cl.stdout, "no pause in force") {
		t.Errorf("limits clear (%v):\n%s", cl.err, cl.stdout)
	}
	if st := runCmd(t, env, "", "status"); strings.Contains(st.stdout, "paused") {
		t.Errorf("status still shows a pause after limits clear:\n%s", st.stdout)
	}
	if r := runCmd(t, env, "", "limits", "stop"); exitCode(r.err) != 2 {
		t.Errorf("limits stop: exit %d, want 2 (usage)", exitCode(r.err))
	}
}
