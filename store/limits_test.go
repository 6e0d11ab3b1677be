package store_test

import (
	"testing"
	"time"
)

// TakeTokens says when to ask again, whether it took tokens or not: a
// taker that emptied the bucket learns when the next token is due.
func TestDB_TakeTokens_SaysWhenToAskAgain(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	const perSecond, burst = 10.0, 2.0 // a token every 100 ms
	near := func(what string, got, want time.Duration) {
		t.Helper()
		// Less when time passed between the takes; never more.
		if got <= 0 || got > want+5*time.Millisecond {
			t.Errorf("%s: ask again in %v, want up to %v", what, got, want)
		}
	}
	taken, wait, err := db.TakeTokens(ctx, "k", 1, 1, perSecond, burst)
	if err != nil || taken != 1 || wait != 0 {
		t.Fatalf("full bucket: took %d, wait %v, %v; want 1 and no wait (one token is left)", taken, wait, err)
	}
	taken, wait, err = db.TakeTokens(ctx, "k", 1, 2, perSecond, burst)
	if err != nil || taken != 1 {
		t.Fatalf("last token: took %d, %v; want 1", taken, err)
	}
	near("after taking the last token", wait, 100*time.Millisecond)
	taken, wait, err = db.TakeTokens(ctx, "k", 1, 2, perSecond, burst)
	if err != nil || taken != 0 {
		t.Fatalf("empty bucket: took %d, %v; want none", taken, err)
	}
	near("empty bucket", wait, 100*time.Millisecond)
	time.Sleep(wait)
	if taken, _, err = db.TakeTokens(ctx, "k", 1, 2, perSecond, burst); err != nil || taken != 1 {
		t.Fatalf("after the wait: took %d, %v; want the token then due", taken, err)
	}
}
