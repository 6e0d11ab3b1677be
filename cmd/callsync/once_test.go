package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// TestOnce_EchoedKeyIsRedacted: an API that sends the key
// back in error bodies gets it into no log, no last_error, no
// last_bad_body and no sync_runs.error.
func TestOnce_EchoedKeyIsRedacted(t *testing.T) {
	const key = "sk-echo-0123456789abcdef"
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 11, Calls: 3})
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	echo := `{"detail":"invalid request, headers: {'authorization': 'Bearer ` + key + `'}"}`
	srv.Script(calls[0].ID(), apitest.Step{Status: http.StatusInternalServerError, Body: echo})
	srv.Script(calls[1].ID(), apitest.Step{Status: http.StatusOK, Body: "<html>proxy error for Bearer " + key + "</html>"})
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": key,
		"SYNTHFLOW_RATE_LIMIT": "0", "LOG_LEVEL": "debug"}
	execCmd(t, t.Context(), env, append([]string{"enqueue"}, callIDs(calls)...)...)
	out, _ := execCmd(t, t.Context(), env, "once")
	// Then every request answers 401 with the key in the body: the pass
	// fails, and its error is stored.
	srv.Script(calls[0].ID(), apitest.Step{Status: http.StatusUnauthorized, Body: echo})
	execCmd(t, t.Context(), map[string]string{"DATABASE_URL": dbURL}, "retry-failed")
	pool := mustPool(t, dbURL)
	if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET state = 'pending', next_attempt_at = now() WHERE call_id = $1`, calls[0].ID()); err != nil {
		t.Fatal(err)
	}
	out2, code := execCmd(t, t.Context(), env, "once")
	if code == 0 {
		t.Fatalf("once with a 401 exited 0:\n%s", out2)
	}
	if strings.Contains(out+out2, key) {
		t.Fatalf("the output shows the key:\n%s\n%s", out, out2)
	}
	var leaks int
	if err := pool.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM sync_queue WHERE strpos(coalesce(last_error, ''), $1) > 0 OR strpos(encode(coalesce(last_bad_body, ''), 'escape'), $1) > 0) +
		(SELECT count(*) FROM sync_runs WHERE strpos(coalesce(error, ''), $1) > 0)`, key).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Fatalf("%d stored texts hold the key", leaks)
	}
	var redacted int
	if err := pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM sync_queue WHERE last_error LIKE '%[REDACTED]%') +
		(SELECT count(*) FROM sync_runs WHERE error LIKE '%[REDACTED]%')`).Scan(&redacted); err != nil {
		t.Fatal(err)
	}
	if redacted == 0 {
		t.Fatal("no stored error shows where the key was redacted: did the echo reach the store at all?")
	}
}

// TestOnce_RedirectIsAnError: a redirect from the API host
// is not followed; once fails naming SYNTHFLOW_API_URL and the location,
// and the other server never sees the key.
func TestOnce_RedirectIsAnError(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": redirector.URL + "/v2", "SYNTHFLOW_API_KEY": testKey}
	execCmd(t, t.Context(), env, "enqueue", "call-a", "call-b")
	out, code := execCmd(t, t.Context(), env, "once")
	if code == 0 {
		t.Fatalf("once exited 0 after a redirect:\n%s", out)
	}
	for _, want := range []string{"SYNTHFLOW_API_URL", other.URL + "/v2/calls/"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %s:\n%s", want, out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 0 {
		t.Fatalf("the redirect target got %d requests (Authorization %q)", len(seen), seen)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'pending' AND attempts = 0`); got != 2 {
		t.Fatalf("%d rows pending and untouched, want 2", got)
	}
}

// TestOnce_MisconfiguredAPI: a URL without /v2 or a host
// that does not answer burns no attempt, and once fails at once naming
// SYNTHFLOW_API_URL; backfill says the same instead of "run it again".
func TestOnce_MisconfiguredAPI(t *testing.T) {
	storetest.Parallel(t) // its subtests' databases do not make it parallel
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 2, Calls: 5})
	srv := fakeAPI(t, calls...)
	for name, c := range map[string]struct{ url, says string }{
		"NoVersion":   {strings.TrimSuffix(srv.URL, "/v2"), "does not lead to the Synthflow API"},
		"Unreachable": {"http://" + freeAddr(t) + "/v2", "cannot be reached"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL := storetest.NewDatabase(t)
			env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": c.url, "SYNTHFLOW_API_KEY": testKey}
			execCmd(t, t.Context(), env, append([]string{"enqueue"}, callIDs(calls)...)...)
			start := time.Now()
			out, code := execCmd(t, t.Context(), env, "once")
			if code == 0 || !strings.Contains(out, "SYNTHFLOW_API_URL (now "+c.url+")") || !strings.Contains(out, c.says) {
				t.Fatalf("once exited %d, want non-zero naming SYNTHFLOW_API_URL and saying %q:\n%s", code, c.says, out)
			}
			if got := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'pending' AND attempts = 0`); got != len(calls) {
				t.Fatalf("%d of %d rows pending and untouched", got, len(calls))
			}
			if got := count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE error LIKE '%Synthflow API cannot be used%'`); got != 1 {
				t.Errorf("%d sync_runs rows record the failure, want 1", got)
			}
			t.Logf("once failed after %v", time.Since(start).Round(time.Millisecond))
			if name == "NoVersion" {
				out, code = execCmd(t, t.Context(), env, "backfill", "--model-id", srv.Models()[0], "--from", "2026-05-02", "--to", "2026-05-03")
				if code == 0 || !strings.Contains(out, "SYNTHFLOW_API_URL") || strings.Contains(out, "run the same command again") {
					t.Fatalf("backfill exited %d, want non-zero naming SYNTHFLOW_API_URL without advice to repeat it:\n%s", code, out)
				}
			}
		})
	}
}

// TestOnce_ImpossibleTimings: a negative ringing time is
// stored as NULL and adds nothing to talk time.
func TestOnce_ImpossibleTimings(t *testing.T) {
	call := apitest.Generate(apitest.GenerateOptions{Seed: 4, Calls: 1})[0]
	call, err := call.With("telephony_duration", 60000)
	if err != nil {
		t.Fatal(err)
	}
	if call, err = call.With("telephony_ringing_duration", -3600000); err != nil {
		t.Fatal(err)
	}
	srv := fakeAPI(t, call)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey}
	if r := runCmd(t, env, "", "enqueue", call.ID()); r.err != nil {
		t.Fatal(r.err)
	}
	r := runCmd(t, env, "", "once")
	if r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM call_telephony WHERE ringing_duration_ms IS NULL AND duration_ms = 60000`); got != 1 {
		t.Fatalf("%d telephony rows with the ringing time dropped, want 1", got)
	}
	if got := count(t, dbURL, `SELECT round(talk_seconds)::int FROM call_facts`); got != 60 {
		t.Fatalf("talk_seconds = %d, want 60", got)
	}
	if !strings.Contains(r.stderr, "telephony_ringing_duration") {
		t.Errorf("the log does not note the dropped field:\n%s", r.stderr)
	}
}
