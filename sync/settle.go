package sync

import (
	"context"
	"time"

	"github.com/callsync/callsync/store"
)

// outcome is what became of one claimed row, as counted in Stats.
type outcome uint8

const (
	released    outcome = iota // not fetched, or interrupted: given back to the queue
	done                       // stored with a final status
	polling                    // stored with a status not final, to fetch again
	retrying                   // failed, to try again
	failed                     // failed for good
	rateLimited                // put back because the API answered 429
)

// count adds one row of outcome o to st.
func (st *Stats) count(o outcome) {
	switch o {
	case released:
		st.Released++
	case done:
		st.Done++
	case polling:
		st.Polling++
	case retrying:
		st.Retrying++
	case failed:
		st.Failed++
	case rateLimited:
		st.RateLimited++
	}
}

// result is what the pass settles for one claimed row: a row released has
// no store outcome.
type result struct {
	kind    outcome
	outcome store.Outcome
}

// add adds the outcome counters of d to st.
func (st *Stats) add(d Stats) {
	st.Done += d.Done
	st.Unchanged += d.Unchanged
	st.Polling += d.Polling
	st.Retrying += d.Retrying
	st.Failed += d.Failed
	st.RateLimited += d.RateLimited
	st.Released += d.Released
	st.Lost += d.Lost
	st.Erased += d.Erased
}

// settle writes a batch's calls and outcomes in one transaction and gives
// back the rows that have none, then adds what became of them to the
// pass's Stats.
func (p *pass) settle(b *batch) error {
	var outcomes []store.Outcome
	var kinds []outcome
	var release []string
	for i, r := range b.results {
		if r.kind == released {
			release = append(release, b.lease.Rows[i].CallID)
			continue
		}
		outcomes = append(outcomes, r.outcome)
		kinds = append(kinds, r.kind)
	}
	ctx, done := context.WithTimeout(context.WithoutCancel(p.ctx), settleTimeout)
	defer done()
	writeStart := time.Now()
	res, err := p.s.Queue.Complete(ctx, b.lease.Token, outcomes)
	if err != nil {
		return err
	}
	if p.s.ObserveWrite != nil {
		p.s.ObserveWrite(time.Since(writeStart), len(outcomes))
	}
	var d Stats
	d.Failed, d.Lost, err = p.s.failRejected(ctx, b.lease.Token, res.Rejected)
	if err != nil {
		return err
	}
	if err := p.s.Queue.Release(ctx, b.lease.Token, release); err != nil {
		return err
	}
	d.Unchanged = res.Unchanged
	d.Released = len(release)
	p.s.countSettled(&d, res, outcomes, kinds)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.add(d)
	if p.s.ObserveBatch != nil {
		p.s.ObserveBatch(d)
	}
	return nil
}

// countSettled adds to d the outcomes Complete stored, and those it did not
// store because the call was erased, its lease lost or the stored call
// changed meanwhile.
func (s *Syncer) countSettled(d *Stats, res store.CompleteResult, outcomes []store.Outcome, kinds []outcome) {
	lost := make(map[string]bool, len(res.Lost))
	for _, id := range res.Lost {
		lost[id] = true
		s.Logger.Warn("lease lost before the call was stored; another worker has it", callIDAttr(id))
	}
	erased := make(map[string]bool, len(res.Erased))
	for _, id := range res.Erased {
		erased[id] = true
		s.Logger.Debug("call erased while it was fetched; not stored", callIDAttr(id))
	}
	stale := make(map[string]bool, len(res.Stale))
	for _, id := range res.Stale {
		stale[id] = true
		s.Logger.Debug("stored call changed while it was fetched; fetching it again", callIDAttr(id))
	}
	for i, o := range outcomes {
		switch {
		case erased[o.CallID]:
			d.Erased++
		case lost[o.CallID]:
			d.Lost++
		case stale[o.CallID]:
			d.Released++
		case res.Rejected[o.CallID] != nil: // counted by failRejected
		default:
			d.count(kinds[i])
		}
	}
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
		s.Logger.Warn("database refused the call; marking it failed", callIDAttr(id), errAttr(err))
		outcomes = append(outcomes, store.Outcome{CallID: id, State: store.StateFailed, Attempt: true,
			Error: s.Config.oneLine("store call: the database refused it: " + err.Error())})
	}
	res, err := s.Queue.Complete(ctx, token, outcomes)
	if err != nil {
		return 0, 0, err
	}
	return len(outcomes) - len(res.Lost), len(res.Lost), nil
}
