package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// TestVariables_List: list shows every collected variable stored, marked
// shared or not, and how to share one, also when none is shared yet.
func TestVariables_List(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 91, Calls: 30, Models: 1})...)
	env := intakeEnv(t, srv)
	dbURL := env["DATABASE_URL"]
	if r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-01", "--to", "2026-06-01"); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	names := count(t, dbURL, `SELECT count(DISTINCT name) FROM collected_variables`)
	if names < 2 {
		t.Fatalf("%d variable names stored: the test proves nothing", names)
	}
	r := runCmd(t, env, "", "variables", "list")
	if r.err != nil {
		t.Fatalf("variables list: %v", r.err)
	}
	rows := regexp.MustCompile(`(?m)^\S+\s+(yes|no)\s+\d+\s*$`).FindAllString(r.stdout, -1)
	if len(rows) != names {
		t.Fatalf("variables list shows %d variables, want the %d stored:\n%s", len(rows), names, r.stdout)
	}
	if !strings.Contains(r.stdout, "no variable is shared") || !strings.Contains(r.stdout, "callsync variables share NAME") {
		t.Errorf("variables list does not say that none is shared and how to share one:\n%s", r.stdout)
	}
	name := strings.Fields(rows[0])[0]
	if r := runCmd(t, env, "", "variables", "share", name); r.err != nil {
		t.Fatalf("variables share: %v", r.err)
	}
	r = runCmd(t, env, "", "variables", "list")
	if r.err != nil || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(name)+`\s+yes\s`).MatchString(r.stdout) ||
		strings.Contains(r.stdout, "no variable is shared") {
		t.Fatalf("variables list after sharing %s: %v\n%s", name, r.err, r.stdout)
	}
}
