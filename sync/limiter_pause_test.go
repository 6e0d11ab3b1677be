package sync_test

import (
	"context"
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// No 429 pauses the key for longer than store.MaxPause, in this process or
// in the shared bucket, whatever delay it asked for.
func TestLimiter_PauseIsBounded(t *testing.T) {
	db := store.New(storetest.Pool(t))
	l := callsync.NewLimiter(db, "k", 30, 2, quietLogger())
	l.Throttled(t.Context(), 10*365*24*time.Hour)
	if d := l.PausedFor(); d <= 0 || d > store.MaxPause {
		t.Errorf("PausedFor after a 429 asking for 10 years = %v, want at most %v", d, store.MaxPause)
	}
	var left time.Duration
	if err := storetest.PoolOf(db).QueryRow(t.Context(), `SELECT paused_until - now() FROM api_limits WHERE key = 'k'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left > store.MaxPause {
		t.Errorf("shared pause %v ahead, want at most %v", left, store.MaxPause)
	}
}

// An operator's ClearPauses (callsync limits clear) reaches a process that
// is waiting out a pause: it asks the shared bucket again while it waits.
func TestLimiter_ClearedPauseReachesAWaitingProcess(t *testing.T) {
	db := store.New(storetest.Pool(t))
	l := callsync.NewLimiter(db, "k", 600, 2, quietLogger())
	l.Throttled(t.Context(), store.MaxPause)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a safety net, far under the pause
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- l.Wait(ctx) }()
	if _, err := db.ClearPauses(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("Wait after the pause was cleared = %v, want a token well before the pause's end", err)
	}
	if d := l.PausedFor(); d > 0 {
		t.Errorf("PausedFor after the pause was cleared = %v, want 0", d)
	}
}
