package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	callsync "github.com/callsync/callsync/sync"
)

// testProgress returns a progress display on a fake clock.
func testProgress(tty bool) (*progress, *bytes.Buffer, *bytes.Buffer, *time.Time) {
	var out, logs bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progress{what: "backfill", w: &out, logger: slog.New(slog.NewTextHandler(&logs, nil)), tty: tty, now: func() time.Time { return now }}
	p.start, p.last = now, now
	return p, &out, &logs, &now
}

func TestProgress_Terminal(t *testing.T) {
	p, out, logs, now := testProgress(true)
	p.update(callsync.BackfillProgress{Windows: 10, Done: 1, Calls: 50})
	if out.Len() != 0 {
		t.Fatalf("drew before the redraw interval: %q", out)
	}
	*now = now.Add(10 * time.Second)
	p.update(callsync.BackfillProgress{Windows: 10, Done: 5, Skipped: 3, Calls: 400, Requests: 6})
	line := out.String()
	for _, want := range []string{"\r\x1b[K", "5/10 windows", "400 calls", "40.0 calls/s", "6 requests", "ETA 25s"} {
		if !strings.Contains(line, want) {
			t.Errorf("bar %q lacks %q", line, want)
		}
	}
	p.finish()
	if !strings.HasSuffix(out.String(), "\n") || logs.Len() != 0 {
		t.Fatalf("finish: %q, logs %q", out, logs)
	}
}

func TestProgress_Log(t *testing.T) {
	p, out, logs, now := testProgress(false)
	p.update(callsync.BackfillProgress{Windows: 4, Done: 0, Calls: 10})
	*now = now.Add(time.Second)
	p.update(callsync.BackfillProgress{Windows: 4, Done: 1, Calls: 20})
	if logs.Len() != 0 {
		t.Fatalf("logged before the interval: %s", logs)
	}
	*now = now.Add(5 * time.Second)
	p.update(callsync.BackfillProgress{Windows: 4, Done: 2, Calls: 60, Current: callsync.Window{ModelID: "m1",
		From: time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)}})
	got := logs.String()
	for _, want := range []string{"backfill progress", "windows_done=2", "windows=4", "calls=60", "calls_per_second=10.0", "eta=6s", "model_id=m1", "window=2026-05-02"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	if out.Len() != 0 {
		t.Fatalf("wrote a bar to a non-terminal: %q", out)
	}
	if p.finish(); strings.Count(logs.String(), "backfill progress") != 2 {
		t.Fatalf("finish did not log the final state: %s", logs)
	}
}

// TestProgress_NamesItsCommand: verify shows its progress under its own
// name, so a long verify is not silent.
func TestProgress_NamesItsCommand(t *testing.T) {
	p, _, logs, now := testProgress(false)
	p.what = "verify"
	*now = now.Add(6 * time.Second)
	p.update(callsync.BackfillProgress{Windows: 30, Done: 3, Calls: 90, Requests: 3})
	if got := logs.String(); !strings.Contains(got, "verify progress") || !strings.Contains(got, "windows_done=3") {
		t.Fatalf("log %q, want a verify progress line", got)
	}
}
