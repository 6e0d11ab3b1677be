package sync_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// grants runs n goroutines taking tokens from l until ctx ends and returns
// the time of every grant.
func grants(ctx context.Context, l *callsync.Limiter, n int) []time.Time {
	var mu sync.Mutex
	var out []time.Time
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for l.Wait(ctx) == nil {
				mu.Lock()
				out = append(out, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

func maxInWindow(ts []time.Time, d time.Duration) int {
	best := 0
	for i := range ts {
		n := 0
		for _, u := range ts {
			if !u.Before(ts[i]) && u.Sub(ts[i]) < d {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestLimiter_SharedAcrossProcesses(t *testing.T) {
	db := store.New(storetest.Pool(t))
	// Two limiters on one key stand for two processes: together they stay
	// under 600 requests a minute (10 a second).
	a := callsync.NewLimiter(db, "k", 600, 2, quietLogger())
	b := callsync.NewLimiter(db, "k", 600, 2, quietLogger())
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	var all []time.Time
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, l := range []*callsync.Limiter{a, b} {
		wg.Go(func() {
			g := grants(ctx, l, 4)
			mu.Lock()
			all = append(all, g...)
			mu.Unlock()
		})
	}
	wg.Wait()
	// 2.5 s at 9.6/s plus a burst of 2: about 26.
	if n := len(all); n < 20 || n > 28 {
		t.Errorf("%d grants in 2.5 s, want about 26", n)
	}
	if n := maxInWindow(all, time.Second); n > 11 {
		t.Errorf("%d grants within one second, want at most 11 (10/s plus the burst)", n)
	}
}

func TestLimiter_ThrottledPausesEveryone(t *testing.T) {
	db := store.New(storetest.Pool(t))
	a := callsync.NewLimiter(db, "k", 6000, 5, quietLogger())
	b := callsync.NewLimiter(db, "k", 6000, 5, quietLogger())
	start := time.Now()
	a.Throttled(t.Context(), 700*time.Millisecond)
	if err := b.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 600*time.Millisecond {
		t.Fatalf("the other process waited %v, want the 700 ms pause", waited)
	}
	var until *time.Time
	if err := db.Pool().QueryRow(t.Context(), `SELECT paused_until FROM api_limits WHERE key = 'k'`).Scan(&until); err != nil {
		t.Fatal(err)
	}
	if until == nil {
		t.Fatal("pause not recorded in api_limits")
	}
}

func TestLimiter_PausesWithoutRateLimit(t *testing.T) {
	db := store.New(storetest.Pool(t))
	l := callsync.NewLimiter(db, "k", 0, 1, quietLogger())
	start := time.Now()
	for range 100 {
		if err := l.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	l.Throttled(t.Context(), 300*time.Millisecond)
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Fatalf("Wait returned after %v, want the 300 ms pause", took)
	}
}

func TestLimiter_WaitEndsWithContext(t *testing.T) {
	db := store.New(storetest.Pool(t))
	l := callsync.NewLimiter(db, "k", 60, 1, quietLogger())
	l.Throttled(t.Context(), time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait = %v, want the context's error", err)
	}
}

func TestLimiter_DatabaseDownPacesLocally(t *testing.T) {
	pool := storetest.Pool(t)
	db := store.New(pool)
	l := callsync.NewLimiter(db, "k", 600, 1, quietLogger())
	pool.Close() // the database is gone
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	g := grants(ctx, l, 4)
	if n := len(g); n < 6 || n > 12 {
		t.Fatalf("%d grants in 1 s without a database, want about 10: the local bucket paces", n)
	}
}
