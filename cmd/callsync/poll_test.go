package main

import (
	"strings"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// TestPoll_AllModelsAndRefusedKey checks poll --all-models, and that a
// refused key's summary still counts the models given.
func TestPoll_AllModelsAndRefusedKey(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 61, Calls: 30, Models: 2})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	r := runCmd(t, env, "", "poll", "--all-models")
	if r.err != nil || !strings.Contains(r.stdout, "poll: 2 of 2 models polled to the end") {
		t.Errorf("poll --all-models: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if r := runCmd(t, env, "", "poll", "--all-models", "--model-id", "m"); exitCode(r.err) != 2 {
		t.Errorf("poll --all-models --model-id: %v, want a usage error", r.err)
	}
	env["SYNTHFLOW_API_KEY"] = "wrong-key"
	r = runCmd(t, env, "", "poll", "--model-id", srv.Models()[0])
	if r.err == nil || !strings.Contains(r.stdout, "poll: 0 of 1 models polled to the end") {
		t.Errorf("poll with a refused key: %v\n%s", r.err, r.stdout)
	}
}
