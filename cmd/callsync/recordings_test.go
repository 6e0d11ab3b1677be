package main

import (
	"os"
	"strings"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// TestRecordings_CLI archives with once into a local directory, shows the
// archive in status, prints a link, and forget deletes the object and
// says so.
func TestRecordings_CLI(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 91, Calls: 6, Models: 1})
	for i, c := range calls {
		c, err := c.With("status", "completed")
		if err != nil {
			t.Fatal(err)
		}
		calls[i] = c.Without("recording_url", "call_status")
	}
	srv := fakeAPI(t, calls...)
	for _, c := range calls {
		srv.SetRecording(c.ID(), apitest.Recording{Kind: apitest.RecordingAudio})
	}
	env := intakeEnv(t, srv)
	dir := t.TempDir()
	env["SYNC_RECORDINGS_URL"] = "file://" + dir
	env["SYNC_RECORDINGS_UPSTREAM_RETENTION"] = "30d"

	// Without the setting, the fake API's loopback links are refused.
	if r := runCmd(t, env, "", "enqueue", calls[0].ID(), calls[1].ID(), calls[2].ID(), calls[3].ID(), calls[4].ID(), calls[5].ID()); r.err != nil {
		t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
	}
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	dbURL := env["DATABASE_URL"]
	if n := count(t, dbURL, `SELECT count(*) FROM recordings WHERE state = 'error' AND last_error LIKE '%private address%'`); n != 6 {
		t.Fatalf("%d recordings refused as private, want 6", n)
	}

	env["SYNC_RECORDINGS_ALLOW_PRIVATE_HOSTS"] = "true"
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	// The errors wait for their backoff: make them due, as time would.
	if n := count(t, dbURL, `WITH u AS (UPDATE recordings SET next_try_at = now() RETURNING 1) SELECT count(*) FROM u`); n != 6 {
		t.Fatal(n)
	}
	r := runCmd(t, env, "", "once")
	if r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM recordings WHERE state = 'archived'`); n != 6 {
		t.Fatalf("%d archived, want 6\n%s", n, r.stderr)
	}
	if n := srv.RecordingKeyLeaks(); n != 0 {
		t.Fatalf("the API key went to %d signed links", n)
	}

	r = runCmd(t, env, "", "status")
	if r.err != nil || !strings.Contains(r.stdout, "recordings:\n  archived   6\n") || !strings.Contains(r.stdout, "backlog: 0") {
		t.Fatalf("status: %v\n%s", r.err, r.stdout)
	}

	id := calls[2].ID()
	r = runCmd(t, env, "", "recording-link", "--call-id", id)
	path := strings.TrimSpace(r.stdout)
	if r.err != nil || !strings.HasPrefix(path, dir+"/") || !strings.HasSuffix(path, "/"+id+".wav") {
		t.Fatalf("recording-link: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(path); err != nil || string(b[:4]) != "RIFF" {
		t.Fatalf("the link's file: %v", err)
	}

	r = runCmd(t, env, "", "forget", "--call-id", id)
	if r.err != nil || !strings.Contains(r.stdout, "deleted 1 archived recordings from file://"+dir) {
		t.Fatalf("forget: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the recording of a forgotten call is still there: %v", err)
	}
	if r := runCmd(t, env, "", "recording-link", "--call-id", id); r.err == nil {
		t.Fatalf("recording-link of a forgotten call: %s", r.stdout)
	}
}
