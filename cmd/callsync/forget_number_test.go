package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// numberCall is a call object from one number to another.
func numberCall(t *testing.T, id, model string, startMS int64, from, to string) apitest.Call {
	t.Helper()
	c, err := apitest.ParseCall(fmt.Appendf(nil, `{"call_id": %q, "model_id": %q, "status": "completed",
		"start_time": "%d", "phone_number_from": %s, "phone_number_to": %q, "name": "Zelda Quuxington",
		"transcript": "human: hello\nbot: hi"}`, id, model, startMS, from, to))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestForget_PhoneNumberStopsEveryIntake (issue 19.3): forget
// --phone-number finds the calls stored in clear before hashing was
// switched on as well as those stored hashed since; tombstones the number
// so that a call of it that was queued before, or is listed by a backfill
// later, is never stored; clears the kept failure of a call that could not
// be decoded; and says what it did. prune --retain-calls clears old kept
// failures too.
func TestForget_PhoneNumberStopsEveryIntake(t *testing.T) {
	const number = "+14155559001"
	const hashKey = "0123456789abcdef-forget-key"
	base := apitest.Generate(apitest.GenerateOptions{Seed: 93, Calls: 1, Models: 1})[0]
	model, start := base.ModelID(), base.Start().UnixMilli()
	calls := []apitest.Call{
		numberCall(t, "clear-a", model, start, `"`+number+`"`, "+4930111"),     // stored before hashing
		numberCall(t, "hashed-b", model, start, `"+4930222"`, number),          // stored with hashing on
		numberCall(t, "queued-c", model, start, `14155559001`, "+4930333"),     // queued before forget, a JSON number
		numberCall(t, "listed-e", model, start, `"+1 415 555 9001"`, "+49304"), // listed by a backfill later
		numberCall(t, "bad-d", model, start, `"+4930555"`, "+4930666"),
		numberCall(t, "other-f", model, start, `"+4930777"`, "+4930888"),
	}
	srv := fakeAPI(t, calls...)
	bad := `not json {"phone_number_from": "` + number + `", "name": "Zelda Quuxington", "transcript": "human: my secret"}`
	srv.Script("bad-d", apitest.Step{Status: http.StatusOK, Body: bad})
	srv.Script("other-f", apitest.Step{Status: http.StatusOK, Body: `not json {"name": "Old Failure"}`})
	env := intakeEnv(t, srv)
	dbURL := env["DATABASE_URL"]
	cmd := func(env map[string]string, args ...string) string {
		t.Helper()
		r := runCmd(t, env, "", args...)
		if r.err != nil {
			t.Fatalf("%v: %v\n%s%s", args, r.err, r.stdout, r.stderr)
		}
		return r.stdout + r.stderr
	}
	cmd(env, "enqueue", "clear-a", "bad-d", "other-f")
	cmd(env, "once")
	hashed := map[string]string{"SYNC_HASH_PHONE_NUMBERS": "1", "SYNC_HASH_KEY": hashKey}
	for k, v := range env {
		hashed[k] = v
	}
	cmd(hashed, "enqueue", "hashed-b")
	cmd(hashed, "once")
	cmd(hashed, "enqueue", "queued-c")
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE call_id IN ('clear-a', 'hashed-b')`); n != 2 {
		t.Fatalf("%d of the two calls stored before the erasure", n)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE last_bad_body IS NOT NULL`); n != 2 {
		t.Fatalf("%d queue rows kept a bad body, want 2: the test proves nothing", n)
	}

	out := cmd(hashed, "forget", "--phone-number", number)
	for _, want := range []string{"2 calls erased (2 were stored", "1 phone numbers tombstoned", "1 queue rows had a kept failure"} {
		if !strings.Contains(out, want) {
			t.Errorf("forget says %q, want %q in it", out, want)
		}
	}
	if strings.Contains(out, "9001") {
		t.Errorf("forget repeats the number: %s", out)
	}
	// The queued call is fetched, and a backfill lists the calls again.
	cmd(hashed, "once")
	day := base.Start().UTC().Format("2006-01-02")
	next := base.Start().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	cmd(hashed, "backfill", "--all-models", "--from", day, "--to", next, "--refetch")
	cmd(hashed, "once")

	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE call_id IN ('clear-a', 'hashed-b', 'queued-c', 'listed-e')`); n != 0 {
		t.Errorf("%d calls of the erased number stored after forget", n)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE call_id = 'other-f'`); n != 1 {
		t.Errorf("the other call is not stored (%d): the backfill proves nothing", n)
	}
	mac := hmac.New(sha256.New, []byte(hashKey))
	mac.Write([]byte(number))
	stored := dumpTables(t, dbURL)
	for _, s := range []string{"4155559001", "415 555 9001", hex.EncodeToString(mac.Sum(nil)), "my secret"} {
		if strings.Contains(stored, s) {
			at := strings.Index(stored, s)
			t.Errorf("%q still stored: %s", s, stored[max(0, at-200):min(len(stored), at+60)])
		}
	}

	// Retention of calls clears failures kept longer than it.
	pool := mustPool(t, dbURL)
	if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET updated_at = now() - interval '40 days' WHERE call_id = 'other-f'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET last_bad_body = 'x', last_error = 'Old Failure', updated_at = now() - interval '40 days' WHERE call_id = 'other-f'`); err != nil {
		t.Fatal(err)
	}
	env["SYNC_RETAIN_CALLS"] = "30d"
	if out := cmd(env, "prune"); !strings.Contains(out, "1 kept failures of queue rows") {
		t.Errorf("prune says %q, want 1 kept failure cleared", out)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE last_bad_body IS NOT NULL OR last_error LIKE '%Old Failure%'`); n != 0 {
		t.Errorf("%d queue rows keep an old failure after prune", n)
	}
}
