package sync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/callsync/callsync/store"
)

// settleTimeout bounds the writes that settle a batch after the pass's
// context ended, so that fetched calls are not thrown away on shutdown.
const settleTimeout = 30 * time.Second

// writers is how many batches are written at once, each in its own
// transaction on its own connection. Batches hold disjoint rows, so they
// never wait on each other's locks; two keep the database busy while one
// transaction commits. Fetching overlaps writing, and memory stays bounded
// by about 2·writers+1 batches whatever the queue's length.
const writers = 2

// errShutdownGrace ends fetches still running when the shutdown grace ends.
var errShutdownGrace = errors.New("sync: shutdown grace period over")

// batch is one claimed lease on its way through a pass.
type batch struct {
	lease   store.Lease
	stopAt  time.Time // dispatch nothing after this: leave time to write before the lease ends
	results []result  // one per row, written by the worker that fetched it
	fetched sync.WaitGroup
}

// result is what became of one claimed row; a row without an outcome
// (not fetched, or interrupted) is released.
type result struct {
	outcome *store.Outcome
	kind    *int // the Stats counter the outcome adds to
}

type job struct {
	b *batch
	i int
}

// RunOnce drains the queue: it claims batches and processes them until no
// row is due, ctx ends, the API refuses the key (ErrUnauthorized) or cannot
// be used at its URL (ErrAPIUnavailable). A config that Config.Validate
// refuses is returned as an error before anything is done.
// Fetching runs Concurrency calls at a time and overlaps the write of the
// previous batch. A per-call failure is recorded on its row and the pass
// goes on. When ctx ends, no new call is fetched, calls being fetched get
// Config.ShutdownGrace to finish and are stored, and the rest go back to the
// queue untouched; RunOnce then returns ctx's error. A database error ends
// the pass and is returned; rows it could not settle come back when their
// lease expires.
func (s *Syncer) RunOnce(ctx context.Context) (Stats, error) {
	var st Stats
	if err := s.Config.Validate(); err != nil {
		return st, fmt.Errorf("sync: config: %w", err)
	}
	cfg := s.Config.withDefaults()
	n, err := s.Queue.RescueExpired(ctx, cfg.MaxAttempts)
	if err != nil {
		return st, err
	}
	st.Rescued = n

	// Fetches outlive ctx by the shutdown grace.
	fetchCtx, cancelFetch := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelFetch(nil)
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(cfg.ShutdownGrace, func() { cancelFetch(errShutdownGrace) })
		context.AfterFunc(fetchCtx, func() { t.Stop() })
	})
	defer stopGrace()

	jobs := make(chan job)
	var workers sync.WaitGroup
	for range cfg.Concurrency {
		workers.Go(func() {
			for j := range jobs {
				j.b.results[j.i] = s.syncSafely(fetchCtx, cancelFetch, cfg, j.b, j.i, &st)
				j.b.fetched.Done()
			}
		})
	}

	toWrite := make(chan *batch, writers)
	var writeMu sync.Mutex // guards writeErr and the Stats counters settle adds to
	var writeErr error
	var writer sync.WaitGroup
	for range writers {
		writer.Go(func() {
			for b := range toWrite {
				b.fetched.Wait()
				writeMu.Lock()
				failed := writeErr != nil
				writeMu.Unlock()
				if failed {
					continue // the database failed: these rows come back when their lease expires
				}
				if err := s.settle(ctx, b, &st, &writeMu); err != nil {
					writeMu.Lock()
					if writeErr == nil {
						writeErr = err
					}
					writeMu.Unlock()
					cancelFetch(err)
				}
			}
		})
	}

	var claimErr error
	stopping := func() bool { return ctx.Err() != nil || fetchCtx.Err() != nil }
	for !stopping() {
		lease, err := s.claim(ctx, cfg)
		if err != nil {
			if ctx.Err() == nil {
				claimErr = err
			}
			break
		}
		if len(lease.Rows) == 0 {
			break
		}
		st.Claimed += len(lease.Rows)
		b := &batch{lease: lease, stopAt: s.now().Add(cfg.Lease * 8 / 10), results: make([]result, len(lease.Rows))}
		b.fetched.Add(len(lease.Rows))
		dispatched := 0
	dispatch:
		for i := range lease.Rows {
			if stopping() || s.now().After(b.stopAt) || s.waitPause(fetchCtx) != nil {
				break
			}
			select {
			case jobs <- job{b, i}:
				dispatched++
			case <-ctx.Done():
				break dispatch
			case <-fetchCtx.Done():
				break dispatch
			}
		}
		b.fetched.Add(dispatched - len(lease.Rows)) // rows never dispatched are released
		toWrite <- b
		if suspect(lease) {
			// A suspect may kill the process: let it run alone, so that
			// no other row is lost with it.
			b.fetched.Wait()
		}
	}
	close(jobs)
	workers.Wait()
	close(toWrite)
	writer.Wait()

	switch cause := context.Cause(fetchCtx); {
	case writeErr != nil:
		return st, writeErr
	case claimErr != nil:
		return st, claimErr
	case errors.Is(cause, ErrUnauthorized), errors.Is(cause, ErrAPIUnavailable):
		return st, cause
	}
	return st, ctx.Err()
}

// claim claims the next batch. The claim is not cut short by ctx: a claim
// the database committed but whose answer was dropped would leave its rows
// running until their lease expired. A batch claimed as ctx ends is given
// back at once, untouched.
func (s *Syncer) claim(ctx context.Context, cfg Config) (store.Lease, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	return s.Queue.Claim(ctx, cfg.claimSize(), cfg.Lease)
}

// suspect reports whether a lease holds a row whose previous worker died
// holding it.
func suspect(l store.Lease) bool {
	for _, r := range l.Rows {
		if r.Suspect {
			return true
		}
	}
	return false
}

// settle writes a batch's calls and outcomes in one transaction and gives
// back the rows that have none. It adds to st under mu.
func (s *Syncer) settle(ctx context.Context, b *batch, st *Stats, mu *sync.Mutex) error {
	var outcomes []store.Outcome
	var kinds []*int
	var release []string
	for i, r := range b.results {
		if r.outcome == nil {
			release = append(release, b.lease.Rows[i].CallID)
			continue
		}
		outcomes = append(outcomes, *r.outcome)
		kinds = append(kinds, r.kind)
	}
	settleCtx, done := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer done()
	writeStart := time.Now()
	res, err := s.Queue.Complete(settleCtx, b.lease.Token, outcomes)
	if err != nil {
		return err
	}
	if s.ObserveWrite != nil {
		s.ObserveWrite(time.Since(writeStart), len(outcomes))
	}
	failed, lostRejected, err := s.failRejected(settleCtx, b.lease.Token, res.Rejected)
	if err != nil {
		return err
	}
	if err := s.Queue.Release(settleCtx, b.lease.Token, release); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if s.ObserveBatch != nil {
		before := outcomeValues(st)
		defer func() {
			after := outcomeValues(st)
			var d Stats
			for i, p := range outcomeCounts(&d) {
				*p = after[i] - before[i]
			}
			s.ObserveBatch(d)
		}()
	}
	st.Unchanged += res.Unchanged
	st.Failed += failed
	st.Lost += lostRejected
	st.Released += len(release)
	lost := make(map[string]bool, len(res.Lost))
	for _, id := range res.Lost {
		lost[id] = true
		s.Logger.Warn("lease lost before the call was stored; another worker has it", "call_id", id)
	}
	erased := make(map[string]bool, len(res.Erased))
	for _, id := range res.Erased {
		erased[id] = true
		s.Logger.Debug("call erased while it was fetched; not stored", "call_id", id)
	}
	stale := make(map[string]bool, len(res.Stale))
	for _, id := range res.Stale {
		stale[id] = true
		s.Logger.Debug("stored call changed while it was fetched; fetching it again", "call_id", id)
	}
	for i, o := range outcomes {
		switch {
		case erased[o.CallID]:
			st.Erased++
		case lost[o.CallID]:
			st.Lost++
		case stale[o.CallID]:
			st.Released++
		case res.Rejected[o.CallID] != nil: // counted by failRejected
		default:
			*kinds[i]++
		}
	}
	return nil
}

// failRejected marks failed the calls the database refused to store: the
// refusal comes from the data, so fetching it again would not help. The
// operator sees why in last_error and can queue them again with
// retry-failed once the cause is fixed.
// It returns how many it marked and how many it could not (lease lost).
func (s *Syncer) failRejected(ctx context.Context, token int64, rejected map[string]error) (failed, lost int, err error) {
	if len(rejected) == 0 {
		return 0, 0, nil
	}
	outcomes := make([]store.Outcome, 0, len(rejected))
	for id, err := range rejected {
		s.Logger.Warn("database refused the call; marking it failed", "call_id", id, "err", err)
		outcomes = append(outcomes, store.Outcome{CallID: id, State: store.StateFailed, Attempt: true,
			Error: oneLine("store call: the database refused it: " + err.Error())})
	}
	res, err := s.Queue.Complete(ctx, token, outcomes)
	if err != nil {
		return 0, 0, err
	}
	return len(outcomes) - len(res.Lost), len(res.Lost), nil
}

// outcomeCounts points at the counters of st that settle adds to: every
// field but Claimed and Rescued, which the claiming loop writes without
// the writers' lock.
func outcomeCounts(st *Stats) *[8]*int {
	return &[8]*int{&st.Done, &st.Unchanged, &st.Polling, &st.Retrying, &st.Failed, &st.RateLimited, &st.Released, &st.Lost}
}

func outcomeValues(st *Stats) [8]int {
	var v [8]int
	for i, p := range outcomeCounts(st) {
		v[i] = *p
	}
	return v
}
