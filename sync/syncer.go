package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// ErrUnauthorized is returned by RunOnce when the API refuses the key. The
// pass stops at once and every claimed row goes back to the queue untouched.
var ErrUnauthorized = errors.New("sync: the Synthflow API refused the API key")

// Fetcher fetches one call from the calls API. *api.Client implements it.
type Fetcher interface {
	GetCall(ctx context.Context, id string) (*api.Call, error)
}

// Queue is the part of *store.DB that a sync pass uses.
type Queue interface {
	RescueExpired(ctx context.Context) (int, error)
	Claim(ctx context.Context, limit int, lease time.Duration) (store.Lease, error)
	Complete(ctx context.Context, token int64, outcomes []store.Outcome) (store.CompleteResult, error)
	Release(ctx context.Context, token int64, ids []string) error
}

// Syncer runs sync passes: claim due queue rows, fetch each call, store it
// and settle its queue row. Its fields are set before the first pass and
// not changed after. It is safe for concurrent passes, though callsync never
// overlaps them.
type Syncer struct {
	Queue  Queue
	API    Fetcher
	Logger *slog.Logger
	Config Config
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ObserveWrite, when set, is called after each batch is settled with how
	// long the write took and how many queue rows it settled. For metrics.
	ObserveWrite func(took time.Duration, rows int)

	pauseMu    sync.Mutex
	pauseUntil time.Time
}

// Stats counts what a pass did.
type Stats struct {
	Rescued     int // expired leases taken back before the pass
	Claimed     int // rows claimed
	Done        int // calls stored with a final status
	Unchanged   int // of the calls stored, those whose payload had not changed
	Polling     int // calls stored with a status that is not final, to fetch again
	Retrying    int // failures that will be tried again
	Failed      int // failures that gave up
	RateLimited int // rows put back because the API answered 429
	Released    int // rows given back unprocessed (shutdown, auth failure, lease running out)
	Lost        int // rows whose lease another worker took over
}

// settleTimeout bounds the writes that settle a batch after the pass's
// context ended, so that fetched calls are not thrown away on shutdown.
const settleTimeout = 30 * time.Second

// RunOnce drains the queue: it claims and processes batches until no row is
// due, ctx ends, or the API refuses the key (ErrUnauthorized). A per-call
// failure is recorded on its row and the pass goes on. A database error
// ends the pass and is returned; rows already claimed come back when their
// lease expires.
func (s *Syncer) RunOnce(ctx context.Context) (Stats, error) {
	cfg := s.Config.withDefaults()
	var st Stats
	n, err := s.Queue.RescueExpired(ctx)
	if err != nil {
		return st, err
	}
	st.Rescued = n
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		lease, err := s.Queue.Claim(ctx, cfg.BatchSize, cfg.Lease)
		if err != nil {
			return st, err
		}
		if len(lease.Rows) == 0 {
			return st, nil
		}
		st.Claimed += len(lease.Rows)
		if err := s.runBatch(ctx, cfg, lease, &st); err != nil {
			return st, err
		}
	}
}

// result is what became of one claimed row; a row without an outcome
// (skipped, or interrupted) is released.
type result struct {
	outcome *store.Outcome
	kind    *int // the Stats counter the outcome adds to
}

// runBatch fetches the leased calls, Concurrency at a time, and settles
// their rows in one transaction.
func (s *Syncer) runBatch(ctx context.Context, cfg Config, lease store.Lease, st *Stats) error {
	stopAt := s.now().Add(cfg.Lease * 8 / 10) // leave time to write before the lease ends
	fetchCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	rows := lease.Rows
	results := make([]result, len(rows))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(cfg.Concurrency, len(rows)) {
		wg.Go(func() {
			for i := range jobs {
				results[i] = s.syncOne(fetchCtx, cancel, cfg, rows[i], st)
			}
		})
	}
dispatch:
	for i := range rows {
		if s.now().After(stopAt) || s.waitPause(fetchCtx) != nil {
			break
		}
		select {
		case jobs <- i:
		case <-fetchCtx.Done():
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()

	var outcomes []store.Outcome
	var kinds []*int
	var release []string
	for i, r := range results {
		if r.outcome == nil {
			release = append(release, rows[i].CallID)
			continue
		}
		outcomes = append(outcomes, *r.outcome)
		kinds = append(kinds, r.kind)
	}
	settleCtx, done := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer done()
	writeStart := time.Now()
	res, err := s.Queue.Complete(settleCtx, lease.Token, outcomes)
	if err != nil {
		return err
	}
	if s.ObserveWrite != nil {
		s.ObserveWrite(time.Since(writeStart), len(outcomes))
	}
	st.Unchanged += res.Unchanged
	lostSet := make(map[string]bool, len(res.Lost))
	for _, id := range res.Lost {
		lostSet[id] = true
		s.Logger.Warn("lease lost before the call was stored; another worker has it", "call_id", id)
	}
	for i, o := range outcomes {
		if lostSet[o.CallID] {
			st.Lost++
			continue
		}
		*kinds[i]++
	}
	if err := s.Queue.Release(settleCtx, lease.Token, release); err != nil {
		return err
	}
	st.Released += len(release)
	if cause := context.Cause(fetchCtx); errors.Is(cause, ErrUnauthorized) {
		return cause
	}
	return nil
}

// syncOne fetches one call and decides its outcome. On a refused key it
// cancels the batch through stop.
func (s *Syncer) syncOne(ctx context.Context, stop context.CancelCauseFunc, cfg Config, row store.Claimed, st *Stats) result {
	log := s.Logger.With("call_id", row.CallID)
	call, err := s.API.GetCall(ctx, row.CallID)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return result{}
	case errors.Is(err, api.ErrUnauthorized):
		stop(fmt.Errorf("%w: %w", ErrUnauthorized, err))
		return result{}
	case errors.Is(err, api.ErrRateLimited):
		pause := cfg.RateLimitPause
		var se *api.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			pause = se.RetryAfter
		}
		s.pause(pause)
		log.Warn("rate limited by the API; pausing requests", "pause", pause)
		return result{&store.Outcome{CallID: row.CallID, State: store.StatePending, Delay: pause,
			Error: oneLine(err.Error())}, &st.RateLimited}
	default:
		return s.failure(log, cfg, row, err, errors.Is(err, api.ErrNotFound), st)
	}

	c, notes, err := Normalize(call)
	if err != nil {
		return s.failure(log, cfg, row, fmt.Errorf("normalize call %s: %w", row.CallID, err), false, st)
	}
	if len(notes) > 0 {
		log.Warn("call stored with changes", "notes", strings.Join(notes, "; "))
	}
	status := ""
	if c.Status != nil {
		status = *c.Status
	}
	if IsFinal(status) {
		log.Debug("call synced", "status", status)
		return result{&store.Outcome{CallID: row.CallID, Call: &c, State: store.StateDone}, &st.Done}
	}
	started := row.EnqueuedAt
	if c.StartedAt != nil {
		started = *c.StartedAt
	}
	if age := s.now().Sub(started); age >= cfg.MaxPollAge {
		log.Info("call status still not final after the maximum age; keeping it as is",
			"status", status, "age", age.Round(time.Minute))
		return result{&store.Outcome{CallID: row.CallID, Call: &c, State: store.StateDone}, &st.Done}
	}
	delay := pollDelay(cfg.Poll, row.Polls)
	log.Debug("call synced; status not final, fetching again later", "status", status, "delay", delay)
	return result{&store.Outcome{CallID: row.CallID, Call: &c, State: store.StatePending, Delay: delay, Poll: true},
		&st.Polling}
}

// failure records a failed attempt: retried after a backoff, or failed once
// the call has used its attempts.
func (s *Syncer) failure(log *slog.Logger, cfg Config, row store.Claimed, err error, notFound bool, st *Stats) result {
	attempt, limit := row.Attempts+1, cfg.MaxAttempts
	if notFound {
		limit = min(limit, cfg.NotFoundAttempts)
	}
	msg := oneLine(fmt.Sprintf("attempt %d of %d: %v", attempt, limit, err))
	if attempt >= limit {
		log.Warn("call sync failed; giving up", "attempt", attempt, tint.Err(err))
		return result{&store.Outcome{CallID: row.CallID, State: store.StateFailed, Attempt: true, Error: msg}, &st.Failed}
	}
	delay := max(cfg.Retry.Delay(attempt), time.Second)
	log.Warn("call sync failed; will retry", "attempt", attempt, "retry_in", delay.Round(time.Second), tint.Err(err))
	return result{&store.Outcome{CallID: row.CallID, State: store.StatePending, Delay: delay, Attempt: true,
		Error: msg}, &st.Retrying}
}

// pause holds back every request of this Syncer for d.
func (s *Syncer) pause(d time.Duration) {
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	if until := s.now().Add(d); until.After(s.pauseUntil) {
		s.pauseUntil = until
	}
}

// waitPause blocks while requests are paused.
func (s *Syncer) waitPause(ctx context.Context) error {
	for {
		s.pauseMu.Lock()
		wait := s.pauseUntil.Sub(s.now())
		s.pauseMu.Unlock()
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// oneLine folds an error message onto one line of at most 1000 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "") + "…"
	}
	return s
}
