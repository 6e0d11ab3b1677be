package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// intakeEnv is the environment of a command against srv and a new database.
func intakeEnv(t *testing.T, srv *apitest.Server) map[string]string {
	return map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "SYNTHFLOW_API_URL": srv.URL,
		"SYNTHFLOW_API_KEY": testKey, "SYNTHFLOW_RATE_LIMIT": "0", "LOG_LEVEL": "warn"}
}

func TestBackfill_CLI(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 51, Calls: 400, Models: 2})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)

	r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-02", "--to", "2026-06-01", "--dry-run")
	if r.err != nil || !strings.Contains(r.stdout, "400 calls in 60 windows of 2 agents") {
		t.Fatalf("dry run: err %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM calls`); n != 0 {
		t.Fatalf("dry run stored %d calls", n)
	}
	srv.Counters().Reset()

	m0, m1 := srv.Models()[0], srv.Models()[1]
	r = runCmd(t, env, "", "backfill", "--model-id", m0+","+m1, "--from", "2026-05-02", "--to", "2026-06-01T00:00:00Z")
	if r.err != nil || !strings.Contains(r.stdout, "400 calls stored (0 unchanged)") || !strings.Contains(r.stdout, "60 list requests") {
		t.Fatalf("backfill: err %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM calls`); n != 400 {
		t.Fatalf("%d calls stored, want 400", n)
	}
	if strings.Contains(r.stderr, "warning:") {
		t.Fatalf("agents with calls got a warning:\n%s", r.stderr)
	}
	r = runCmd(t, env, "", "backfill", "--model-id", m0, "--model-id", m1, "--from", "2026-05-02", "--to", "2026-06-01")
	if r.err != nil || !strings.Contains(r.stdout, "0 of 60 windows read to the end in this run (60 done before, skipped); 0 calls stored") {
		t.Fatalf("rerun: err %v\n%s", r.err, r.stdout)
	}
}

// TestBackfill_DryRunCountsPerAgent: a dry run costs one list request per
// agent (limit 1, total_records for the whole range), not the backfill's
// pages, and estimates the requests and the time of the real run at the
// configured budget; it skips, as the real run would, the windows done.
func TestBackfill_DryRunCountsPerAgent(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 54, Calls: 900, Models: 3})...)
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_RATE_LIMIT"] = "30"
	rng := []string{"--all-models", "--from", "2026-05-02", "--to", "2026-06-01"}
	r := runCmd(t, env, "", append([]string{"backfill", "--dry-run", "--enrich"}, rng...)...)
	if r.err != nil {
		t.Fatalf("dry run: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if got, want := srv.Counters().Endpoint(apitest.EndpointListCalls), 3; got != want {
		t.Errorf("dry run sent %d list requests, want %d (one per agent)", got, want)
	}
	if got := srv.Counters().Total(); got != 4 {
		t.Errorf("dry run sent %d requests, want 4 (3 counts, 1 to list agents)", got)
	}
	for _, want := range []string{
		"900 calls in 90 windows of 3 agents",
		"counted with 3 list requests + 1 to list agents",
		"about 90 list requests + 900 get requests (--enrich)",
		"at 30 requests a minute (SYNTHFLOW_RATE_LIMIT)",
		"about 34m",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM calls`); n != 0 {
		t.Fatalf("dry run stored %d calls", n)
	}

	// After a backfill of one agent's first week, its windows are done: the
	// estimate leaves them out, and counts the rest of the range.
	env["SYNTHFLOW_RATE_LIMIT"] = "0"
	m0 := srv.Models()[0]
	if r := runCmd(t, env, "", "backfill", "--model-id", m0, "--from", "2026-05-02", "--to", "2026-05-09"); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	srv.Counters().Reset()
	r = runCmd(t, env, "", "backfill", "--dry-run", "--model-id", m0, "--from", "2026-05-02", "--to", "2026-06-01")
	if r.err != nil || !strings.Contains(r.stdout, "in 23 windows of 1 agents (7 windows done before, skipped)") ||
		!strings.Contains(r.stdout, "no rate limit") {
		t.Fatalf("dry run after a partial backfill: %v\n%s", r.err, r.stdout)
	}
	if got := srv.Counters().Total(); got != 1 {
		t.Errorf("dry run sent %d requests, want 1", got)
	}
}

// TestBackfill_UnknownModelWarns: a mistyped --model-id gets an empty list
// from the API, not an error; the backfill says so instead of ending quietly.
func TestBackfill_UnknownModelWarns(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 53, Calls: 20, Models: 1})...)
	env := intakeEnv(t, srv)
	r := runCmd(t, env, "", "backfill", "--model-id", "no-such-agent", "--from", "2026-05-02", "--to", "2026-05-04")
	if r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	want := `warning: agent "no-such-agent" has no calls from 2026-05-02 to 2026-05-04; check the id ('callsync agents' lists the workspace's agents, or use --all-models)`
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr lacks %q:\n%s", want, r.stderr)
	}
}

func TestBackfill_CLIUsage(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://unused", "SYNTHFLOW_API_KEY": "k"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "2026-01-01", "--to", "2026-01-02"}, "--model-id"},
		{[]string{"--model-id", "m", "--all-models", "--from", "2026-01-01", "--to", "2026-01-02"}, "not both"},
		{[]string{"--model-id", "m", "--to", "2026-01-02"}, "--from and --to"},
		{[]string{"--model-id", "m", "--from", "yesterday", "--to", "2026-01-02"}, "--from"},
		{[]string{"--model-id", "m", "--from", "2026-01-02", "--to", "2026-01-02"}, "not before"},
		{[]string{"--model-id", "m", "--from", "2026-01-01", "--to", "2026-01-02", "--window", "1s"}, "--window"},
		{[]string{"--model-id", "m", "--from", "2026-01-01", "--to", "2026-01-02", "--windows-at-once", "0"}, "BACKFILL_WINDOWS_AT_ONCE"},
	} {
		r := runCmd(t, env, "", append([]string{"backfill"}, c.args...)...)
		if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: err %v (exit %d), want a usage error naming %s", c.args, r.err, exitCode(r.err), c.want)
		}
	}
}

func TestBackfill_CLIUnauthorized(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 52, Calls: 10, Models: 1})...)
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_API_KEY"] = "wrong-key-456"
	r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-02", "--to", "2026-06-01")
	if r.err == nil || !strings.Contains(r.err.Error(), "SYNTHFLOW_API_URL") || strings.Contains(r.err.Error()+r.stdout+r.stderr, "wrong-key-456") {
		t.Fatalf("err = %v", r.err)
	}
}

// TestBackfill_SharesRateLimiter backfills three days against an API that
// allows one request in 1.5 s while the client may send 10 a second: the
// 429s pause the shared limiter and every window still lands. (The API's limit is low so
// that a backfill slowed by a busy machine still goes over it.)
func TestBackfill_SharesRateLimiter(t *testing.T) {
	srv, err := apitest.NewServer(apitest.Options{APIKey: testKey, RateLimit: apitest.RateLimit{Requests: 1, Window: 1500 * time.Millisecond},
		Calls: apitest.Generate(apitest.GenerateOptions{Seed: 53, Calls: 100, Models: 1})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_RATE_LIMIT"], env["SYNTHFLOW_RATE_BURST"] = "600", "10"
	r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-05-29", "--to", "2026-06-01")
	if r.err != nil {
		t.Fatalf("err %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	want := 0
	for _, c := range srv.Calls() {
		if !c.Start().Before(time.Date(2026, 5, 29, 0, 0, 0, 0, time.UTC)) {
			want++
		}
	}
	if want == 0 {
		t.Fatal("no call in the range: the test proves nothing")
	}
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM calls`); n != want {
		t.Fatalf("%d calls stored, want %d", n, want)
	}
	if srv.Counters().Status(429) == 0 {
		t.Fatal("the API never throttled: the test proves nothing")
	}
	t.Logf("%d requests, %d throttled", srv.Counters().Total(), srv.Counters().Status(429))
}

// TestBackfill_InterruptedCountsAgree stops a backfill half-way, as Ctrl-C
// does: the last progress line and the summary count the same windows read
// to the end, and the stop asked for logs no warning.
func TestBackfill_InterruptedCountsAgree(t *testing.T) {
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 55, Calls: 600, Models: 2})...)
	env := intakeEnv(t, srv)
	env["LOG_LEVEL"] = "info"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	lists := 0
	srv.OnList(func(apitest.ListRequest) {
		mu.Lock()
		defer mu.Unlock()
		if lists++; lists == 25 { // some windows read, others in flight
			cancel()
		}
	})
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"backfill", "--all-models", "--from", "2026-05-02", "--to", "2026-06-01"},
		func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "run the same command again to continue") {
		t.Fatalf("err = %v, want the advice to run it again", err)
	}
	summary := regexp.MustCompile(`backfill: (\d+) of 60 windows read to the end`).FindStringSubmatch(stdout.String())
	var last []string
	for _, m := range regexp.MustCompile(`backfill progress windows_done=(\d+) windows=60`).FindAllStringSubmatch(stderr.String(), -1) {
		last = m
	}
	if summary == nil || last == nil {
		t.Fatalf("no summary or no progress line:\n%s%s", stdout.String(), stderr.String())
	}
	if last[1] != summary[1] {
		t.Errorf("last progress line says %s windows done, the summary %s read to the end:\n%s%s", last[1], summary[1], stdout.String(), stderr.String())
	}
	if summary[1] == "0" || summary[1] == "60" {
		t.Errorf("%s windows read before the stop: the test proves nothing", summary[1])
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "WRN") || strings.Contains(l, "ERR") || strings.Contains(l, "context canceled") {
			t.Errorf("a stop asked for logged: %s", l)
		}
	}
}

// TestPrintBackfill_Stopped checks a stopped backfill's summary: what this
// run finished, what was done before and what is left, and the dry run's
// wording.
func TestPrintBackfill_Stopped(t *testing.T) {
	var buf bytes.Buffer
	printBackfill(&buf, callsync.BackfillReport{Windows: 60, Skipped: 5, Done: 10, Calls: 70, Enqueued: 3}, 0, 0, false, nil)
	if want := "backfill: 10 of 60 windows read to the end in this run (5 done before, skipped), 45 left; 70 calls stored"; !strings.HasPrefix(buf.String(), want) {
		t.Errorf("summary %q, want it to start %q", buf.String(), want)
	}
	buf.Reset()
	printBackfill(&buf, callsync.BackfillReport{Windows: 2, Done: 2, Calls: 7, Enqueued: 3}, 0, 0, true, nil)
	if !strings.Contains(buf.String(), "7 calls listed (dry run: nothing written)") || !strings.Contains(buf.String(), "3 would be queued for a fetch") {
		t.Errorf("dry run summary %q", buf.String())
	}
}
