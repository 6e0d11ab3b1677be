package main

import (
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

// TestVerify_CLI backfills, opens a gap in the warehouse, and checks that
// verify reports it as a table and --fix repairs it.
func TestVerify_CLI(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 61, Calls: 200, Models: 2})...)
	env := intakeEnv(t, srv)
	rng := []string{"--all-models", "--from", "2026-05-25", "--to", "2026-06-01"}
	if r := runCmd(t, env, "", append([]string{"backfill"}, rng...)...); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	r := runCmd(t, env, "", append([]string{"verify"}, rng...)...)
	if r.err != nil || !strings.Contains(r.stdout, "verify: 14 windows compared, 0 differ, 14 list requests + 1 to list agents") {
		t.Fatalf("verify: %v\n%s", r.err, r.stdout)
	}
	dbURL := env["DATABASE_URL"]
	if n := count(t, dbURL, `WITH d AS (DELETE FROM calls WHERE call_id IN (SELECT call_id FROM calls
		WHERE started_at >= '2026-05-27' AND started_at < '2026-05-28' ORDER BY call_id LIMIT 2) RETURNING 1) SELECT count(*) FROM d`); n != 2 {
		t.Fatalf("deleted %d calls", n)
	}
	r = runCmd(t, env, "", append([]string{"verify"}, rng...)...)
	if r.err == nil || !strings.Contains(r.stdout, "2026-05-27  2026-05-28") || !strings.Contains(r.stdout, "warehouse") {
		t.Fatalf("verify after the gap: err %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, env, "", append([]string{"verify", "--fix"}, rng...)...)
	if r.err != nil || !strings.Contains(r.stdout, "after --fix:\nverify: ") || !strings.Contains(r.stdout, "0 differ") {
		t.Fatalf("verify --fix: err %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE started_at >= '2026-05-27' AND started_at < '2026-05-28'`); n == 0 {
		t.Fatal("the gap was not filled")
	}
	t.Log("\n" + r.stdout)
}

// TestVerify_AdviceFollowsTheSign: a window where the warehouse holds a call
// the API's list does not show (+1: webhook-only, or deleted in Synthflow)
// is not something --fix changes, so verify does not advise it there; a
// window missing a call (-1) gets the advice.
func TestVerify_AdviceFollowsTheSign(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 63, Calls: 60, Models: 1})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	rng := []string{"--all-models", "--from", "2026-05-25", "--to", "2026-06-01"}
	if r := runCmd(t, env, "", append([]string{"backfill"}, rng...)...); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	// The same workspace without the last call of the range: the warehouse
	// now holds one call more than the API lists.
	var kept []apitest.Call
	dropped := false
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		if !dropped && !c.Start().Before(time.Date(2026, 5, 25, 0, 0, 0, 0, time.UTC)) && c.Start().Before(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
			dropped = true
			continue
		}
		kept = append(kept, c)
	}
	if !dropped {
		t.Fatal("no call in the range: the test proves nothing")
	}
	env["SYNTHFLOW_API_URL"] = fakeAPI(t, kept...).URL
	r := runCmd(t, env, "", append([]string{"verify"}, rng...)...)
	if r.err == nil || !strings.Contains(r.stdout, "+1") {
		t.Fatalf("verify: err %v\n%s", r.err, r.stdout)
	}
	if strings.Contains(r.err.Error(), "--fix to backfill") {
		t.Errorf("verify advises --fix for a + window, which --fix leaves alone: %v", r.err)
	}
	if !strings.Contains(r.err.Error(), "--fix leaves them") {
		t.Errorf("verify does not say what a + window means: %v", r.err)
	}
	r = runCmd(t, env, "", append([]string{"verify", "--fix"}, rng...)...)
	if r.err != nil || !strings.Contains(r.stdout, "note: 1 windows hold calls the API's list does not show") ||
		strings.Contains(r.stdout, "backfill:") {
		t.Errorf("verify --fix on a + window: nothing to fix, a note and no failure wanted: err %v\n%s", r.err, r.stdout)
	}

	// One call less in the warehouse: now --fix is the advice.
	dbURL := env["DATABASE_URL"]
	if n := count(t, dbURL, `WITH d AS (DELETE FROM calls WHERE call_id IN (SELECT call_id FROM calls
		WHERE started_at >= '2026-05-25' AND started_at < '2026-06-01' ORDER BY call_id LIMIT 2) RETURNING 1) SELECT count(*) FROM d`); n != 2 {
		t.Fatalf("deleted %d calls", n)
	}
	r = runCmd(t, env, "", append([]string{"verify"}, rng...)...)
	if r.err == nil || !strings.Contains(r.err.Error(), "--fix to backfill") {
		t.Fatalf("verify of a - window: err %v\n%s", r.err, r.stdout)
	}
}

func TestPoll_CLI(t *testing.T) {
	now := time.Now().UTC()
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 62, Calls: 40, Models: 2, From: now.Add(-30 * time.Minute), To: now})...)
	env := intakeEnv(t, srv)
	r := runCmd(t, env, "", "poll", "--model-id", strings.Join(srv.Models(), ","))
	if r.err != nil || !strings.Contains(r.stdout, "poll: 2 of 2 models polled to the end, 40 calls stored (0 unchanged)") {
		t.Fatalf("poll: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM poll_watermarks`); n != 2 {
		t.Fatalf("%d watermarks, want 2", n)
	}
	if r := runCmd(t, env, "", "poll"); exitCode(r.err) != 2 {
		t.Fatalf("no models: err %v, want a usage error", r.err)
	}
}

func TestPollConfig_FlagReplacesEnvironment(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want string
	}{
		{"a,b", nil, "a,b"},
		{"a,b", []string{"--poll-models", "c"}, "c"},
		{"", []string{"--poll-models", "c", "--poll-models", " d ,"}, "c,d"},
	} {
		f := newFlagSet("run", "run", env2(map[string]string{"SYNC_POLL_MODELS": c.env}))
		var pc pollConfig
		pc.register(f, "poll-models")
		if err := f.parse(c.args); err != nil {
			t.Fatal(err)
		}
		if err := pc.validate(); err != nil || pc.models.String() != c.want {
			t.Errorf("env %q, args %v: models %q (%v), want %q", c.env, c.args, pc.models.String(), err, c.want)
		}
	}
}
