package store_test

import (
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// A pause stored far ahead (by an older build that honoured any Retry-After)
// is cut to store.MaxPause from its first reading: it ends within that,
// and no reader waits for it longer. Pausing again keeps the cut, and
// ClearPauses ends every pause at once.
func TestDB_PauseStoredFarAheadIsCut(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := storetest.PoolOf(db).Exec(ctx, `INSERT INTO api_limits (key, tokens, updated_at, paused_until)
		VALUES ('k', 0, now(), now() + interval '10 years'), ('other', 0, now(), now() + interval '10 years')`); err != nil {
		t.Fatal(err)
	}
	h, err := db.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.APIPausedUntil.Sub(h.CheckedAt); got > store.MaxPause || got <= 0 {
		t.Errorf("Health: paused for %v more, want at most %v", got, store.MaxPause)
	}
	taken, wait, err := db.TakeTokens(ctx, "k", 1, 1, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if taken != 0 || wait <= 0 || wait > store.MaxPause {
		t.Errorf("TakeTokens during a stored pause of 10 years = %d tokens, ask again in %v; want none, within %v", taken, wait, store.MaxPause)
	}
	var left time.Duration
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT paused_until - now() FROM api_limits WHERE key = 'k'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left > store.MaxPause {
		t.Errorf("after a reading, api_limits.paused_until is %v ahead, want it cut to %v", left, store.MaxPause)
	}
	until, err := db.Pause(ctx, "other", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(until); d > store.MaxPause+time.Second {
		t.Errorf("Pause over a stored pause of 10 years ends in %v, want at most %v", d, store.MaxPause)
	}
	if until, err = db.Pause(ctx, "k", 10*365*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(until); d > store.MaxPause+time.Second {
		t.Errorf("Pause of 10 years ends in %v, want at most %v", d, store.MaxPause)
	}
	n, err := db.ClearPauses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("ClearPauses = %d, want the 2 pauses in force", n)
	}
	// The pause emptied the bucket: the next token is due within a second.
	if _, wait, err := db.TakeTokens(ctx, "k", 1, 1, 1, 2); err != nil || wait > 1100*time.Millisecond {
		t.Errorf("TakeTokens after ClearPauses: ask again in %v (%v), want within a second", wait, err)
	}
	if h, err = db.Health(ctx); err != nil || !h.APIPausedUntil.IsZero() {
		t.Errorf("Health after ClearPauses: paused until %v (%v), want no pause", h.APIPausedUntil, err)
	}
}
