package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// TestOnce_KeyStraddlingACutDoesNotLeak (issue 19.2): a 44-character key
// echoed by a 500 across the 300-byte cut of the API's message, by a body
// that cannot be decoded across the 64 KiB cut of what is kept of it, and
// by a gateway-shaped 404 (which stops the pass, so its error lands in
// sync_runs), leaves no 6 characters of itself on stderr, in
// sync_queue.last_error, last_bad_body or sync_runs.error.
func TestOnce_KeyStraddlingACutDoesNotLeak(t *testing.T) {
	const key = "sk-live-Zq7Vb2Lm9Rt4Wc8Ny3Kd6Hf1Jg5Ps0Xa-ABC" // 44 characters
	if len(key) != 44 {
		t.Fatalf("key of %d characters", len(key))
	}
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 19, Calls: 9})
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	echo := func(pad int) string { return strings.Repeat(".", pad) + "Bearer " + key + " rejected" }
	// The message is cut at 300 bytes: these put the cut inside the key.
	for i, pad := range []int{300 - 7 - 43, 300 - 7 - 30, 300 - 7 - 6, 300 - 7 - 1} {
		srv.Script(calls[i].ID(), apitest.Step{Status: http.StatusInternalServerError,
			Body: fmt.Sprintf(`{"detail":%q}`, echo(pad))})
	}
	// What is kept of an undecodable body is cut at 64 KiB.
	for i, pad := range []int{api.MaxKeptBody - 7 - 40, api.MaxKeptBody - 7 - 5} {
		srv.Script(calls[4+i].ID(), apitest.Step{Status: http.StatusOK, Body: echo(pad)})
	}
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": key,
		"SYNTHFLOW_RATE_LIMIT": "0", "LOG_LEVEL": "debug"}
	var out strings.Builder
	for _, args := range [][]string{append([]string{"enqueue"}, callIDs(calls[:6])...), {"once"}} {
		r := runCmd(t, env, "", args...)
		out.WriteString(r.stdout + r.stderr + fmt.Sprint(r.err))
	}
	// A gateway's 404 stops the pass: its error goes to sync_runs.
	srv.Script(calls[6].ID(), apitest.Step{Status: http.StatusNotFound,
		Body: fmt.Sprintf(`{"error":"not_found","message":%q}`, echo(300-7-22))})
	for _, args := range [][]string{{"enqueue", calls[6].ID()}, {"once"}} {
		r := runCmd(t, env, "", args...)
		out.WriteString(r.stdout + r.stderr + fmt.Sprint(r.err))
	}

	pool := mustPool(t, dbURL)
	var stored []string
	rows, err := pool.Query(t.Context(), `
		SELECT 'last_error ' || call_id || ': ' || coalesce(last_error, '') FROM sync_queue
		UNION ALL SELECT 'last_bad_body ' || call_id || ': ' || encode(coalesce(last_bad_body, ''), 'escape') FROM sync_queue
		UNION ALL SELECT 'sync_runs.error: ' || coalesce(error, '') FROM sync_runs`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	texts := append(stored, "output: "+out.String())
	for _, text := range texts {
		for i := 0; i+6 <= len(key); i++ {
			if strings.Contains(text, key[i:i+6]) {
				t.Fatalf("%q of the key in %.600s", key[i:i+6], text)
			}
		}
	}
	// The echoes did reach the store (else the test proves nothing).
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE last_error LIKE '%HTTP 500%'`); n != 4 {
		t.Fatalf("%d rows with a 500 in last_error, want 4", n)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE length(last_bad_body) > 60000`); n != 2 {
		t.Fatalf("%d rows kept a bad body, want 2", n)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE error LIKE '%HTTP 404%'`); n != 1 {
		t.Fatalf("%d passes stopped by the 404, want 1", n)
	}
}
