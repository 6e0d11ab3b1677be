package sync

import "context"

// TryTake takes a token only when one is at hand at once: one this process
// leased, or one the shared bucket gives without a wait. It never waits,
// so that work that only uses the budget left over (archiving recordings)
// never holds back a request that needs it; a wait would be a token intake
// could have had. It reports whether it took one. When the database cannot
// be reached it takes none.
func (l *Limiter) TryTake(ctx context.Context) bool {
	if len(l.turn) > 0 {
		return false // a request of this process waits for the shared bucket: it goes first
	}
	if ok, refill := l.takeLeased(l.now()); ok {
		if refill {
			l.refill(ctx)
		}
		return true
	}
	if l.PausedFor() > 0 {
		return false
	}
	if l.perSecond == 0 {
		return true
	}
	if l.untilAsk() > 0 {
		return false
	}
	taken, wait, err := l.buckets.TakeTokens(ctx, l.key, 1, 1, l.perSecond, l.capacity)
	if err != nil {
		return false
	}
	if taken == 0 {
		l.askAfter(wait)
		return false
	}
	return true
}
