package main

import (
	"strings"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// TestAgents_CLI: callsync agents stores every listed agent and prints
// their names; an agent deleted upstream stays, marked; backfill
// --all-models refreshes the table too, a dry run does not.
func TestAgents_CLI(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 52, Calls: 60, Models: 3})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	models := srv.Models()

	r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-02", "--to", "2026-05-03", "--dry-run")
	if r.err != nil {
		t.Fatalf("dry run: %v\n%s", r.err, r.stderr)
	}
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM agents`); n != 0 {
		t.Fatalf("a dry run stored %d agents", n)
	}
	r = runCmd(t, env, "", "agents")
	if r.err != nil {
		t.Fatalf("agents: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stdout, "agents: 3 listed (3 new)") || !strings.Contains(r.stdout, "Inbound Support") {
		t.Errorf("agents printed:\n%s", r.stdout)
	}
	srv.DeleteAssistant(models[1])
	r = runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-02", "--to", "2026-05-03")
	if r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM agents WHERE deleted_at IS NOT NULL AND name IS NOT NULL`); n != 1 {
		t.Errorf("%d agents marked deleted, want the one deleted upstream", n)
	}
}
