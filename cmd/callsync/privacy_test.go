package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// TestPrune_CLI prunes transcripts, then syncs the calls again by every
// path that writes them: list pages and the worker's fetches. The
// transcripts stay pruned; the facts stay.
func TestPrune_CLI(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 81, Calls: 20, Models: 1})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	dbURL := env["DATABASE_URL"]
	span := []string{"backfill", "--all-models", "--from", "2026-05-01", "--to", "2026-06-01"}
	if r := runCmd(t, env, "", span...); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	lines := count(t, dbURL, `SELECT count(*) FROM transcript_lines`)
	if lines == 0 || count(t, dbURL, `SELECT count(*) FROM transcript_lines WHERE text <> ''`) == 0 {
		t.Fatal("no transcript text stored: the test proves nothing")
	}
	if r := runCmd(t, env, "", "prune"); exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "SYNC_RETAIN_TRANSCRIPTS") {
		t.Errorf("prune without retention: %v, want a usage error", r.err)
	}
	env["SYNC_RETAIN_TRANSCRIPTS"] = "bad"
	if r := runCmd(t, env, "", "prune"); exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "SYNC_RETAIN_TRANSCRIPTS") {
		t.Errorf("prune with a bad retention: %v, want a usage error naming the variable", r.err)
	}
	env["SYNC_RETAIN_TRANSCRIPTS"] = "30d" // the generated calls are older
	withText := count(t, dbURL, `SELECT count(DISTINCT call_id) FROM transcript_lines WHERE text <> ''`)
	r := runCmd(t, env, "", "prune")
	if r.err != nil || !strings.Contains(r.stdout, "pruned: "+strconv.Itoa(withText)+" transcripts, 0 recordings") {
		t.Fatalf("prune: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	check := func(after string) {
		t.Helper()
		if n := count(t, dbURL, `SELECT count(*) FROM transcript_lines WHERE text <> ''`); n != 0 {
			t.Errorf("after %s: %d transcript lines with text", after, n)
		}
		if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE raw ? 'transcript'`); n != 0 {
			t.Errorf("after %s: %d calls with a transcript in raw", after, n)
		}
		if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE transcript_pruned_at IS NOT NULL AND status IS NOT NULL AND started_at IS NOT NULL`); n != 20 {
			t.Errorf("after %s: %d pruned calls with their facts, want 20", after, n)
		}
		if n := count(t, dbURL, `SELECT count(*) FROM transcript_lines`); n != lines {
			t.Errorf("after %s: %d transcript lines, want the %d counted before", after, n, lines)
		}
	}
	check("prune")
	if r := runCmd(t, env, "", append(span, "--refetch", "--enrich")...); r.err != nil {
		t.Fatalf("backfill --refetch --enrich: %v\n%s", r.err, r.stderr)
	}
	check("backfill --refetch --enrich")
	if r := runCmd(t, env, "", "once"); r.err != nil || count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'done'`) != 20 {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	check("once")
}

// TestHashPhoneNumbers_CLI backfills with phone numbers hashed: no number
// is stored in clear, in columns or raw; forget --phone-number finds the
// calls by hashing its input.
func TestHashPhoneNumbers_CLI(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 82, Calls: 20, Models: 1})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	dbURL := env["DATABASE_URL"]
	env["SYNC_HASH_PHONE_NUMBERS"] = "1"
	if r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-01", "--to", "2026-06-01"); exitCode(r.err) != 2 ||
		!strings.Contains(r.err.Error(), "SYNC_HASH_KEY") {
		t.Fatalf("hashing without a key: %v, want a usage error", r.err)
	}
	const key = "a-key-of-at-least-16-bytes"
	env["SYNC_HASH_KEY"] = key
	if r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-01", "--to", "2026-06-01", "--enrich"); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	var number string
	for _, c := range srv.Calls() {
		raw, ok := c.Field("phone_number_from")
		var s string
		if ok && json.Unmarshal(raw, &s) == nil && strings.HasPrefix(s, "+") && len(s) > 8 {
			number = s
			break
		}
	}
	if number == "" {
		t.Fatal("no generated call has a phone number: the test proves nothing")
	}
	digits := strings.TrimPrefix(number, "+")
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE raw::text LIKE '%`+digits+`%'
		OR phone_number_from LIKE '%`+digits+`%' OR phone_number_to LIKE '%`+digits+`%'`); n != 0 {
		t.Errorf("%d calls hold the number in clear", n)
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(number))
	hashed := hex.EncodeToString(m.Sum(nil))
	stored := count(t, dbURL, `SELECT count(*) FROM calls WHERE phone_number_from = '`+hashed+`' AND raw->>'phone_number_from' = '`+hashed+`'`)
	if stored == 0 {
		t.Fatal("no call stores the number's HMAC in its column and raw")
	}
	r := runCmd(t, env, "", "forget", "--phone-number", number)
	if r.err != nil || !strings.Contains(r.stdout, "calls erased") {
		t.Fatalf("forget: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE phone_number_from = '`+hashed+`' OR phone_number_to = '`+hashed+`'`); n != 0 {
		t.Errorf("%d calls with the number left after forget", n)
	}
}

// TestPrune_CountsData: prune counts the transcripts and recordings it
// removed, not the calls past retention: calls without a recording or a
// transcript count for none.
func TestPrune_CountsData(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 82, Calls: 30, Models: 1})...)
	env := intakeEnv(t, srv)
	dbURL := env["DATABASE_URL"]
	if r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-01", "--to", "2026-06-01"); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	// No call keeps a recording, and a third lose their transcript text.
	count(t, dbURL, `WITH u AS (UPDATE calls SET recording_url = NULL RETURNING 1) SELECT count(*) FROM u`)
	count(t, dbURL, `WITH u AS (UPDATE transcript_lines SET text = '' WHERE call_id IN
		(SELECT call_id FROM calls ORDER BY call_id LIMIT 10) RETURNING 1) SELECT count(*) FROM u`)
	transcripts := count(t, dbURL, `SELECT count(DISTINCT call_id) FROM transcript_lines WHERE text <> ''`)
	if transcripts == 0 || transcripts == 30 {
		t.Fatalf("%d of 30 calls with transcript text: the test proves nothing", transcripts)
	}
	env["SYNC_RETAIN_TRANSCRIPTS"], env["SYNC_RETAIN_RECORDINGS"] = "30d", "30d"
	r := runCmd(t, env, "", "prune")
	want := "pruned: " + strconv.Itoa(transcripts) + " transcripts, 0 recordings"
	if r.err != nil || !strings.Contains(r.stdout, want) {
		t.Fatalf("prune: %v, want %q in\n%s", r.err, want, r.stdout)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE transcript_pruned_at IS NOT NULL AND recording_pruned_at IS NOT NULL`); n != 30 {
		t.Errorf("%d calls marked pruned, want all 30", n)
	}
}
