package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// Buckets holds token buckets and pauses shared by every process that uses
// an API key. *store.DB implements it.
type Buckets interface {
	TakeTokens(ctx context.Context, key string, least, most int, perSecond, burst float64) (taken int, wait time.Duration, err error)
	Pause(ctx context.Context, key string, d time.Duration) (until time.Time, err error)
}

// RateMargin is the share of the configured limit a Limiter aims at: the
// API counts requests by their arrival, and network jitter must not push a
// window over the limit.
const RateMargin = 0.96

// Pause lengths after a 429 that carried no Retry-After: doubling from the
// first to the last while 429s keep coming. The last is also the longest
// pause any 429 imposes, with or without Retry-After.
const (
	minRateLimitPause = 10 * time.Second
	maxRateLimitPause = store.MaxPause
)

// pauseRecheck is how often a process waiting out a pause asks the shared
// bucket whether the pause still holds: an operator may have cleared it
// (callsync limits clear).
const pauseRecheck = 5 * time.Second

// leaseSpan bounds what one round trip to the shared bucket may take: at
// most this much of the rate (or the burst, when that is more). A process
// asks the database a few dozen times a second at most, whatever the rate.
// A process holds at most one and a half leases, so the leases add at most
// two and a half spans of the rate (125 ms) to the bucket's burst in any
// window: with RateMargin, any window of 5 s or more stays under the limit,
// and the API counts by the minute.
const leaseSpan = 50 * time.Millisecond

// leaseDemand is how many lease spans of a process's demand its leases
// cover (200 ms): a lease taken when half of the last one is used lasts
// about 100 ms, so a process busy on the API goes to the bucket about ten
// times a second. Holding more never breaks the limit: what one ask takes
// is bounded by the bucket's size (leaseSpan). Covering fewer spans sends
// each process to the bucket more often, and its requests wait on those
// round trips longer in all, the more so the more processes share the
// bucket.
const leaseDemand = 4

// leaseHold is how long leased tokens stay usable: what a process holds
// when its requests stop for a moment (a batch being written, the next
// one claimed) is still there when they resume, without a round trip to
// the bucket that would hold back every request waiting then. How many
// tokens a process holds is bounded by the lease's size, not by this: it
// bounds how late a process with tokens left but few requests learns of a
// pause that another process shared (one that sends many takes its next
// lease, and learns of it, within half a lease).
const leaseHold = 250 * time.Millisecond

// Limiter paces API requests for every process that shares an API key: a
// token bucket and a pause, both kept in the database. It implements
// api.Limiter. Tokens are leased in chunks sized to this process's demand,
// so that the database sees a few round trips a second, not one per
// request. When the database cannot be reached it paces this process alone
// at the same rate, so a database outage never turns into a burst of
// requests.
type Limiter struct {
	// Now returns the current time; nil means time.Now. Leases, pauses and
	// the local bucket are timed by it (waits are real timers of the
	// durations it gives). Set it before the first request.
	Now func() time.Time

	buckets   Buckets
	key       string
	perSecond float64 // 0: no rate limit, pauses only
	burst     float64
	capacity  float64 // size of the shared bucket: the burst, or one lease span of the rate
	logger    *slog.Logger

	turn chan struct{} // one waiter of this process asks the database at a time

	mu          sync.Mutex
	pauseUntil  time.Time     // local copy of the shared pause
	lastPause   time.Duration // length of the last pause without Retry-After
	lease       lease
	refilling   bool      // a waiter is taking the next lease ahead of need
	nextAsk     time.Time // the shared bucket said it has too few tokens until then
	local       localBucket
	warnedLocal bool
}

// lease is the chunk of shared tokens this process holds.
type lease struct {
	size   int       // tokens held when it was taken
	left   int       // of those, not handed out yet
	handed int       // handed out since it was taken
	at     time.Time // when it was taken
	until  time.Time // when the ones left expire
}

// LimiterKey names the bucket of an API key on a host without revealing the
// key: processes with the same key and host share one bucket.
func LimiterKey(baseURL, apiKey string) string {
	sum := sha256.Sum256([]byte(baseURL + "\x00" + apiKey))
	return "api:" + hex.EncodeToString(sum[:12])
}

// NewLimiter returns a limiter allowing perMinute requests a minute (times
// RateMargin) with bursts of up to burst requests, over the bucket key in
// buckets. perMinute 0 means no rate limit: requests wait only for pauses
// after a 429, and those are then kept for this process alone.
func NewLimiter(buckets Buckets, key string, perMinute float64, burst int, logger *slog.Logger) *Limiter {
	l := &Limiter{buckets: buckets, key: key, burst: float64(max(burst, 1)), logger: logger, turn: make(chan struct{}, 1)}
	if perMinute > 0 {
		l.perSecond = perMinute * RateMargin / 60
	}
	l.capacity = max(l.burst, l.perSecond*leaseSpan.Seconds())
	l.local = localBucket{perSecond: l.perSecond, burst: l.burst, tokens: l.burst}
	return l
}

// Wait blocks until a request may be sent: no pause is in force and a
// token of the shared bucket is at hand. It returns ctx's error if ctx ends
// first. A request whose token marks it as the one to lease the next chunk
// takes it before Wait returns: nothing the limiter starts outlives Wait.
func (l *Limiter) Wait(ctx context.Context) error {
	done, err := l.Reserve(ctx)
	if err == nil {
		done()
	}
	return err
}

// Reserve is Wait for a caller that says when its request is over: the
// next chunk, when this request is the one to lease it, is leased while
// the request is in flight, and done waits for that. Call done once the
// request is over (it is not nil when err is nil). Nothing the limiter
// starts outlives done. The round trip to the shared bucket then holds no
// request back: with Wait, the request that leased the next chunk waited
// for it, and with it the batch it belonged to.
func (l *Limiter) Reserve(ctx context.Context) (done func(), err error) {
	if ok, refill := l.takeLeased(l.now()); ok {
		if refill {
			// This request leases the next chunk while it goes, and the
			// others go on with the tokens left.
			return l.refillAlongside(ctx), nil
		}
		return noop, nil
	}
	return noop, l.waitTurn(ctx)
}

func noop() {}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// The client waits for the limiter through Reserve.
var _ interface {
	api.Limiter
	api.Reserver
} = (*Limiter)(nil)

// refillAlongside leases the next chunk in the background and returns the
// function that waits for it.
func (l *Limiter) refillAlongside(ctx context.Context) (done func()) {
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		l.refill(ctx)
	}()
	return func() { <-finished }
}

// waitTurn is Wait for a request that found no leased token: one such
// request of the process at a time asks the shared bucket, the others wait
// for the tokens it leases.
func (l *Limiter) waitTurn(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.turn }()
	for {
		if err := l.waitPause(ctx); err != nil {
			return err
		}
		if ok, refill := l.takeLeased(l.now()); ok { // leased by the waiter before this one
			if refill {
				l.refill(ctx) // the caller marked to take the next lease must take it
			}
			return nil
		}
		if l.perSecond == 0 {
			return nil
		}
		if err := sleep(ctx, l.untilAsk()); err != nil {
			return err
		}
		n := l.nextLease(l.now())
		taken, wait, err := l.buckets.TakeTokens(ctx, l.key, leastOf(n), n, l.perSecond, l.capacity)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			l.warnLocal(err)
			wait = l.takeLocal()
			if wait == 0 {
				return nil
			}
		case taken > 0:
			l.leased(taken, 1, l.now())
			l.askAfter(wait)
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// takeLeased hands out a leased token, if no pause is in force and one is
// left that has not expired. Without a rate limit, it lets every request
// through that no pause holds back. refill says that this caller leases
// the next chunk now, ahead of need: at rates where leases hold many
// tokens, the next one is asked for when half of the current one is used
// or its tokens are about to expire, so that the other requests do not
// stop for the round trip.
func (l *Limiter) takeLeased(now time.Time) (ok, refill bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.pauseUntil) {
		return false, false
	}
	if l.perSecond == 0 {
		return true, false
	}
	if l.lease.left == 0 || !now.Before(l.lease.until) {
		return false, false
	}
	l.lease.left--
	l.lease.handed++
	if l.capacity > l.burst && !l.refilling && !now.Before(l.nextAsk) &&
		(2*l.lease.left < l.lease.size || now.After(l.lease.until.Add(-leaseSpan/2))) {
		l.refilling = true
		return true, true
	}
	return true, false
}

// refill leases the next chunk ahead of need. When the bucket cannot give
// it at once, the database cannot be reached, or ctx ends, it leaves the
// asking to the next Wait that finds no token.
func (l *Limiter) refill(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n := l.nextLease(l.now())
	taken, wait, err := l.buckets.TakeTokens(ctx, l.key, leastOf(n), n, l.perSecond, l.capacity)
	if err == nil && taken > 0 {
		l.leased(taken, 0, l.now())
	}
	l.mu.Lock()
	l.refilling = false
	l.mu.Unlock()
	if err == nil {
		l.askAfter(wait)
	}
}

// askAfter says the shared bucket cannot give a chunk for d: nobody asks
// it again before then. At a demand above the rate, asking sooner only
// adds round trips: a request that asked as soon as its turn came found
// the bucket just emptied by the one before it, and asked twice per token.
func (l *Limiter) askAfter(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nextAsk = l.now().Add(d)
}

// untilAsk returns how long until the shared bucket is worth asking again.
func (l *Limiter) untilAsk() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextAsk.Sub(l.now())
}

// nextLease returns how many tokens to ask for: what this process used, at
// the rate it used them since the last lease, in leaseDemand lease spans,
// less the tokens it still holds (they are kept for the new lease's time);
// within 1 and the shared bucket. The size follows demand: it grows up to
// eightfold while leases run out at once, and shrinks when they expire
// half used. Counting the tokens held keeps what a process draws from the
// bucket to what it sends: without it, every lease taken ahead of need
// drew two spans of demand while half of one was still at hand, twice the
// demand in all, and two processes each sending a quarter of the rate
// emptied the bucket.
func (l *Limiter) nextLease(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	want := 1.0
	if l.lease.handed > 0 {
		elapsed := max(now.Sub(l.lease.at), time.Millisecond)
		want = leaseDemand * float64(l.lease.handed) * min(leaseSpan.Seconds()/elapsed.Seconds(), 2)
	}
	if now.Before(l.lease.until) {
		want -= float64(l.lease.left)
	}
	return int(min(max(want, 1), max(l.capacity, 1)))
}

// leastOf is the fewest tokens worth a round trip when asking for n: a
// quarter of them, so that a process whose demand meets the rate takes
// chunks rather than single tokens as they come due.
func leastOf(n int) int { return max(1, n/4) }

// leased adds a lease of n tokens, of which the caller sends used now.
// Tokens left from the last lease are kept, for the new one's time.
func (l *Limiter) leased(n, used int, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	left := n - used
	if now.Before(l.lease.until) {
		left += l.lease.left
	}
	l.lease = lease{size: left + used, left: left, handed: used, at: now, until: now.Add(leaseHold)}
}

// Throttled pauses every request with the key after a 429: for retryAfter
// when the API sent one, else for a pause that doubles while 429s keep
// coming (10 s up to 5 min).
func (l *Limiter) Throttled(ctx context.Context, retryAfter time.Duration) {
	l.mu.Lock()
	d := min(retryAfter, maxRateLimitPause)
	if d <= 0 {
		// Requests already in flight when the pause began come back with
		// 429s too: only a 429 after the pause, soon after it, escalates.
		sinceEnd := l.now().Sub(l.pauseUntil)
		switch {
		case sinceEnd < 0:
			d = max(l.lastPause, minRateLimitPause)
		case l.lastPause > 0 && sinceEnd < 2*l.lastPause:
			d = min(2*l.lastPause, maxRateLimitPause)
		default:
			d = minRateLimitPause
		}
		l.lastPause = d
	}
	if until := l.now().Add(d); until.After(l.pauseUntil) {
		l.pauseUntil = until
	}
	l.lease.left = 0 // the shared bucket is emptied too
	l.mu.Unlock()
	l.logger.Warn("rate limited by the API; pausing every request with this key", "pause", d.Round(time.Millisecond))
	until, err := l.buckets.Pause(context.WithoutCancel(ctx), l.key, d)
	if err != nil {
		l.logger.Warn("could not share the pause with other processes", errAttr(err))
		return
	}
	l.mu.Lock()
	if until.After(l.pauseUntil) { // a longer pause set by another process
		l.pauseUntil = until
		if limit := l.now().Add(maxRateLimitPause); until.After(limit) {
			l.pauseUntil = limit
		}
	}
	l.mu.Unlock()
}

// PausedFor returns how long requests with the key are paused after a
// 429, as this process knows it; 0 when no pause is in force.
func (l *Limiter) PausedFor() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.pauseUntil.Sub(l.now()), 0)
}

// waitPause waits until no pause is in force. Every pauseRecheck it asks
// the shared bucket: a token there means the pause was cleared, and it ends
// here too (the token is this process's). Without a shared bucket (no rate
// limit), or when the database cannot be reached, the pause is waited out.
func (l *Limiter) waitPause(ctx context.Context) error {
	for {
		d := l.PausedFor()
		if d <= 0 {
			return ctx.Err()
		}
		if l.perSecond == 0 {
			return sleep(ctx, d)
		}
		if err := sleep(ctx, min(d, pauseRecheck)); err != nil || d <= pauseRecheck {
			return err
		}
		taken, _, err := l.buckets.TakeTokens(ctx, l.key, 1, 1, l.perSecond, l.capacity)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && taken > 0 {
			now := l.now()
			l.mu.Lock()
			l.pauseUntil = now
			l.mu.Unlock()
			l.leased(taken, 0, now)
			l.logger.Info("the pause of requests with this key was cleared; resuming")
			return nil
		}
	}
}

func (l *Limiter) warnLocal(err error) {
	l.mu.Lock()
	warned := l.warnedLocal
	l.warnedLocal = true
	l.mu.Unlock()
	if !warned {
		l.logger.Warn("rate limiter cannot reach the database; pacing this process alone", errAttr(err))
	}
}

func (l *Limiter) takeLocal() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.local.take(l.now())
}

// localBucket is an in-process token bucket, the fallback when the shared
// one cannot be reached.
type localBucket struct {
	perSecond, burst, tokens float64
	at                       time.Time
}

// take takes a token and returns 0, or returns how long until one is due.
func (b *localBucket) take(now time.Time) time.Duration {
	if !b.at.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.perSecond)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.perSecond * float64(time.Second))
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
