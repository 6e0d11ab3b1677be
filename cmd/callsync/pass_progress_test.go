package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	callsync "github.com/callsync/callsync/sync"
)

// TestPassProgress: a pass expected to take longer than the interval says
// at its start how many calls are due and how long they take at the
// budget, then how many are settled and left, with an ETA; a short pass
// says nothing.
func TestPassProgress(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	p := &passProgress{logger: slog.New(slog.NewTextHandler(&buf, nil)), rps: 30 * callsync.RateMargin / 60,
		now: func() time.Time { return now }}

	p.begin(4) // 8 s at 30 a minute: nothing to say
	for range 4 {
		now = now.Add(2 * time.Second)
		p.request()
	}
	p.batch(callsync.Stats{Done: 4})
	p.end()
	if buf.Len() > 0 {
		t.Fatalf("a short pass logged:\n%s", buf.String())
	}

	p.begin(31)
	if want := `msg="sync pass started" due=31 expected=1m5s rate_limit_per_minute=30`; !strings.Contains(buf.String(), want) {
		t.Fatalf("start line: want %q in\n%s", want, buf.String())
	}
	buf.Reset()
	for range 4 {
		now = now.Add(2 * time.Second)
		p.request()
	}
	if buf.Len() > 0 {
		t.Fatalf("progress before the interval:\n%s", buf.String())
	}
	p.batch(callsync.Stats{Done: 3, Polling: 1})
	now = now.Add(3 * time.Second)
	p.request()
	if want := `msg="sync pass progress" requests=5 due=31 remaining=26 settled=4 elapsed=11s eta=54s`; !strings.Contains(buf.String(), want) {
		t.Fatalf("progress line: want %q in\n%s", want, buf.String())
	}
	buf.Reset()
	p.end()
	now = now.Add(time.Minute)
	p.request() // a poll between passes
	if buf.Len() > 0 {
		t.Fatalf("a request after the pass logged:\n%s", buf.String())
	}
}

// TestOnce_ShowsProgress: once, on a queue that takes longer than the
// progress interval at the budget, says so when it starts.
func TestOnce_ShowsProgress(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 56, Calls: 25, Models: 1})
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_RATE_LIMIT"], env["LOG_LEVEL"] = "120", "info"
	if r := runCmd(t, env, strings.Join(callIDs(calls), "\n"), "enqueue", "-"); r.err != nil {
		t.Fatalf("enqueue: %v", r.err)
	}
	r := runCmd(t, env, "", "once")
	if r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "sync pass started") || !strings.Contains(r.stderr, "due=25 expected=13s rate_limit_per_minute=120") {
		t.Errorf("once did not say what the pass takes:\n%s", r.stderr)
	}
	t.Log("\n" + r.stderr)
}
