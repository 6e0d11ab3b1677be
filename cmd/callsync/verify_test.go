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
