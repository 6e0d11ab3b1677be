package sync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/callsync/callsync/store"
)

// settleTimeout bounds the writes that settle a batch after the pass's
// context ended, so that fetched calls are not thrown away on shutdown.
const settleTimeout = 30 * time.Second

// writers is how many batches are written at once, each in its own
// transaction on its own connection. Batches hold disjoint rows, so they
// never wait on each other's locks; two keep the database busy while one
// transaction commits. Fetching overlaps writing, and memory stays bounded
// by about 2·writers+2 batches (one of them claimed ahead) whatever the
// queue's length.
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

type job struct {
	b *batch
	i int
}

// pass is the state of one RunOnce: the claiming loop feeds fetch workers
// through jobs and writers through toWrite.
type pass struct {
	s   *Syncer
	cfg Config
	// ctx is the caller's: claims stop when it ends, settles outlive it.
	ctx context.Context
	// fetchCtx outlives ctx by the shutdown grace; stop ends it early, with
	// the cause that ends the pass (refused key, unusable API, write error).
	fetchCtx context.Context
	stop     context.CancelCauseFunc

	jobs    chan job
	toWrite chan *batch
	// writeFailed ends when a write failed: what is left is not written,
	// and its rows come back when their lease expires.
	writeFailed context.Context

	mu sync.Mutex // guards the outcome counters of st that writers add to
	st Stats
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
	if err := s.Config.Validate(); err != nil {
		return Stats{}, fmt.Errorf("sync: config: %w", err)
	}
	p := &pass{s: s, cfg: s.Config.withDefaults(), ctx: ctx}
	n, err := s.Queue.RescueExpired(ctx, p.cfg.MaxAttempts)
	if err != nil {
		return p.st, err
	}
	p.st.Rescued = n

	// Fetches outlive ctx by the shutdown grace.
	p.fetchCtx, p.stop = context.WithCancelCause(context.WithoutCancel(ctx))
	defer p.stop(nil)
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(p.cfg.ShutdownGrace, func() { p.stop(errShutdownGrace) })
		context.AfterFunc(p.fetchCtx, func() { t.Stop() })
	})
	defer stopGrace()

	p.jobs = make(chan job)
	var workers sync.WaitGroup
	for range p.cfg.Concurrency {
		workers.Go(p.fetchJobs)
	}
	p.toWrite = make(chan *batch, writers)
	// The group's context ends when a write fails; settles outlive ctx.
	written, writeCtx := errgroup.WithContext(context.WithoutCancel(ctx))
	p.writeFailed = writeCtx
	for range writers {
		written.Go(func() error {
			err := p.write()
			if err != nil {
				p.stop(err)
			}
			return err
		})
	}

	claimErr := p.claimAll()
	close(p.jobs)
	workers.Wait()
	close(p.toWrite)
	writeErr := written.Wait()

	switch cause := context.Cause(p.fetchCtx); {
	case writeErr != nil:
		return p.st, writeErr
	case claimErr != nil:
		return p.st, claimErr
	case errors.Is(cause, ErrUnauthorized), errors.Is(cause, ErrAPIUnavailable):
		return p.st, cause
	}
	return p.st, ctx.Err()
}

// stopping reports whether the pass claims and dispatches no more.
func (p *pass) stopping() bool { return p.ctx.Err() != nil || p.fetchCtx.Err() != nil }

// claimAll claims batches and hands them to the workers and writers until
// the queue has no row due or the pass stops. It returns a claim's error.
//
// The next batch is claimed while the current one is still being handed
// out, once its rows left would take the workers about as long to fetch as
// a claim takes: without that, the workers stand idle through every
// claim, and when the calls are unchanged, so that little is written,
// the claims are a large part of the pass. At a rate
// limit the rows left always take longer, so the next claim starts when
// the last row is handed out, and no lease runs while its batch waits.
func (p *pass) claimAll() error {
	if p.stopping() {
		return nil
	}
	next := p.claimAhead()
	var prev *batch
	for {
		c := next()
		next = nil
		if c.err != nil {
			if p.ctx.Err() == nil {
				return c.err
			}
			return nil
		}
		if len(c.lease.Rows) == 0 {
			return nil
		}
		p.st.Claimed += len(c.lease.Rows)
		b := &batch{lease: c.lease, stopAt: p.s.now().Add(p.cfg.Lease * 8 / 10), results: make([]result, len(c.lease.Rows))}
		alone := suspect(c.lease)
		ahead := func() { next = p.claimAhead() }
		if alone {
			// A suspect may kill the process: let it run alone, so that
			// no other row is lost with it.
			if prev != nil {
				prev.fetched.Wait()
			}
			ahead = nil
		}
		b.fetched.Add(len(c.lease.Rows))
		dispatched := p.dispatch(b, c.took, ahead)
		b.fetched.Add(dispatched - len(c.lease.Rows)) // rows never dispatched are released
		p.toWriter(b)
		if alone {
			b.fetched.Wait()
		}
		prev = b
		if p.stopping() {
			if next != nil { // claimed ahead: give it back untouched
				if c := next(); c.err == nil && len(c.lease.Rows) > 0 {
					p.st.Claimed += len(c.lease.Rows)
					p.toWriter(&batch{lease: c.lease, results: make([]result, len(c.lease.Rows))})
				}
			}
			return nil
		}
		if next == nil {
			next = p.claimAhead()
		}
	}
}

// claimed is the result of one claim.
type claimed struct {
	lease store.Lease
	took  time.Duration
	err   error
}

// claimAhead starts a claim and returns the function that waits for it;
// claimAll always waits for it, so the claim never outlives the pass.
func (p *pass) claimAhead() func() claimed {
	ch := make(chan claimed, 1)
	go func() {
		start := time.Now()
		lease, err := p.s.claim(p.ctx, p.cfg)
		ch <- claimed{lease, time.Since(start), err}
	}()
	return func() claimed { return <-ch }
}

// toWriter hands b to the writers, which settle it once its fetches are
// over and give back the rows never fetched; when a write has failed, b is
// not written, and its rows come back when their lease expires.
func (p *pass) toWriter(b *batch) {
	select {
	case p.toWrite <- b:
	case <-p.writeFailed.Done():
	}
}

// dispatch hands b's rows to the fetch workers until the pass stops or the
// batch's lease nears its end, and returns how many it handed over. It
// calls ahead, when not nil, once the rows left would be fetched, at the
// rate the batch's rows have been handed out so far, in twice the time the
// batch's claim took (claimTook), or when the last row is handed out.
func (p *pass) dispatch(b *batch, claimTook time.Duration, ahead func()) int {
	start := time.Now()
	n := len(b.lease.Rows)
	for i := range b.lease.Rows {
		if ahead != nil && i > 0 && time.Duration(n-i)*time.Since(start) <= 2*claimTook*time.Duration(i) {
			ahead()
			ahead = nil
		}
		if p.stopping() || p.s.now().After(b.stopAt) || p.s.waitPause(p.fetchCtx) != nil {
			return i
		}
		select {
		case p.jobs <- job{b, i}:
		case <-p.ctx.Done():
			return i
		case <-p.fetchCtx.Done():
			return i
		}
	}
	if ahead != nil && !p.stopping() {
		ahead()
	}
	return n
}

// fetchJobs is a fetch worker: it fetches the rows it is handed until jobs
// closes.
func (p *pass) fetchJobs() {
	for j := range p.jobs {
		j.b.results[j.i] = p.syncSafely(j.b, j.i)
		j.b.fetched.Done()
	}
}

// write is a writer: it settles each batch once its fetches are over, until
// toWrite closes or a write fails.
func (p *pass) write() error {
	for b := range p.toWrite {
		b.fetched.Wait()
		if p.writeFailed.Err() != nil {
			return nil // another writer failed: these rows come back when their lease expires
		}
		if err := p.settle(b); err != nil {
			return err
		}
	}
	return nil
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
