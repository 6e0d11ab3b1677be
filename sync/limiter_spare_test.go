package sync_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// TestLimiter_TryTake takes what the bucket holds and no more, never
// waiting: the budget left over by intake.
func TestLimiter_TryTake(t *testing.T) {
	db := store.New(storetest.Pool(t))
	l := callsync.NewLimiter(db, "api:trytake", 1, 3, slog.New(slog.NewTextHandler(io.Discard, nil)))
	taken := 0
	for range 10 {
		if l.TryTake(t.Context()) {
			taken++
		}
	}
	// One a minute with a burst of 3: the burst, and no wait for the next.
	if taken != 3 {
		t.Fatalf("TryTake gave %d tokens, want the burst of 3", taken)
	}
	// Without a rate limit, it always gives.
	free := callsync.NewLimiter(db, "api:trytake-free", 0, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for range 5 {
		if !free.TryTake(t.Context()) {
			t.Fatal("TryTake without a rate limit refused")
		}
	}
}
