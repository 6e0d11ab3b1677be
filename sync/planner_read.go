package sync

import (
	"context"
	"errors"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// maxReadRows bounds the rows one read claims.
const maxReadRows = 1000

// read lists one agent's calls from the earliest start its due rows (and,
// with poll, its watermark less the lookback) need, page by page up to
// MaxPages, stores every call listed, settles the pending rows of the
// final ones, queues the ones in progress, and settles the rows it
// claimed: done when listed final, read again later when listed in
// progress, fetched alone after FallbackWait when not listed.
func (p *Planner) read(ctx context.Context, cfg PlannerConfig, model string, poll bool, prio int) (PlanStats, error) {
	var st PlanStats
	now := p.now()
	lease, err := p.Store.ClaimListed(ctx, model, maxReadRows, cfg.Lease, cfg.MaxListAge)
	if err != nil {
		return st, err
	}
	var from, wm time.Time
	first := false
	if poll {
		wm, err = p.Store.Watermark(ctx, model)
		first = errors.Is(err, store.ErrNotFound)
		if err != nil && !first {
			return st, errors.Join(err, p.release(lease))
		}
		from = wm.Add(-cfg.Lookback)
		if first {
			from = now.Add(-cfg.Lookback)
		}
	}
	for _, r := range lease.Rows {
		if s := r.StartedAt.Add(-cfg.Slack); from.IsZero() || s.Before(from) {
			from = s
		}
	}
	if from.IsZero() {
		return st, nil
	}
	from = later(from, now.Add(-cfg.MaxListAge))

	in := intake{store: p.Store, log: p.Logger, cfg: p.Intake.withDefaults(), model: model, now: now}
	listed := map[string]bool{} // call id → final
	var newest time.Time
	complete := false
	for offset, pages := 0, 0; pages < cfg.MaxPages; pages++ {
		page, err := p.listPage(ctx, in, &st, prio, api.ListOptions{ModelID: model, From: from, Limit: in.cfg.PageSize, Offset: offset})
		if err != nil {
			return st, errors.Join(err, p.release(lease))
		}
		fresh := make([]*api.Call, 0, len(page.Calls))
		for _, c := range page.Calls {
			if _, seen := listed[c.ID]; !seen {
				listed[c.ID] = false
				fresh = append(fresh, c)
			}
		}
		got, err := p.ingest(ctx, in, cfg, fresh, listed, lease)
		if err != nil {
			return st, errors.Join(err, p.release(lease))
		}
		st.Listed += len(fresh)
		st.Settled += got.settled
		st.Queued += got.queued
		if got.newest.After(newest) {
			newest = got.newest
		}
		read := len(page.Calls) + len(page.Problems)
		offset += read
		if lastPage(read, offset, page.Total, len(fresh), in.cfg.PageSize) {
			complete = true
			break
		}
	}
	if err := p.settleClaimed(ctx, cfg, lease, listed, &st); err != nil {
		return st, err
	}
	if poll && complete {
		to := newest
		if to.IsZero() {
			to = wm
			if first {
				to = from
			}
		}
		if _, err := p.Store.AdvanceWatermark(context.WithoutCancel(ctx), model, to); err != nil {
			return st, err
		}
	}
	p.Logger.Debug("list read", modelIDAttr(model), "poll", poll, "from", from, "requests", st.Requests,
		"listed", st.Listed, "served", st.Served, "rechecks", st.Rechecks, "missed", st.Missed,
		"settled", st.Settled, "queued", st.Queued)
	return st, nil
}

// listPage sends one list request in a turn of priority prio, retrying
// as polls do; an API failure is returned as a *readError.
func (p *Planner) listPage(ctx context.Context, in intake, st *PlanStats, prio int, opts api.ListOptions) (*api.CallPage, error) {
	page, err := request(ctx, in.cfg, &st.Requests, func() (*api.CallPage, error) {
		release, err := p.Turns.Take(ctx, prio)
		if err != nil {
			return nil, err
		}
		defer release()
		p.Spend.Add(PurposeList)
		return p.API.ListCalls(ctx, opts)
	})
	switch {
	case err == nil:
		return page, nil
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrAPIUnavailable), ctx.Err() != nil:
		return nil, err
	}
	return nil, &readError{err}
}

// listedIngest counts what ingest did with one page.
type listedIngest struct {
	settled, queued int
	newest          time.Time
}

// ingest stores a page's calls, marks in listed which are final, settles
// the pending rows of the final ones (not those of lease: settleClaimed
// does) and queues the recent ones in progress, with their agent and
// start, to be read again.
func (p *Planner) ingest(ctx context.Context, in intake, cfg PlannerConfig, calls []*api.Call, listed map[string]bool,
	lease store.Lease) (listedIngest, error) {
	var res listedIngest
	rows, _, _ := in.normalize(calls)
	if len(rows) == 0 {
		return res, nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	saved, err := p.Store.SaveCalls(wctx, rows)
	if err != nil {
		return res, err
	}
	erased := make(map[string]bool, len(saved.Erased))
	for _, id := range saved.Erased {
		erased[id] = true
	}
	var final []string
	var open []store.Listed
	for _, r := range rows {
		if r.StartedAt != nil && r.StartedAt.After(res.newest) {
			res.newest = *r.StartedAt
		}
		if erased[r.ID] {
			delete(listed, r.ID) // not stored: its claimed row is fetched alone, and finds it erased
			continue
		}
		status := ""
		if r.Status != nil {
			status = *r.Status
		}
		if IsFinal(status) {
			listed[r.ID] = true
			final = append(final, r.ID)
			continue
		}
		recent := r.StartedAt != nil && in.now.Sub(*r.StartedAt) < in.cfg.MaxPollAge
		if recent && ValidateCallID(r.ID) == nil {
			open = append(open, store.Listed{CallID: r.ID, Hint: store.Hint{ModelID: in.model, StartedAt: *r.StartedAt}})
		}
	}
	if res.settled, err = p.Store.SettleListed(wctx, final); err != nil {
		return res, err
	}
	res.queued, err = p.Store.EnqueueListed(wctx, open, cfg.Recheck.Base)
	return res, err
}

// settleClaimed settles the rows the read claimed by what the pages said
// of their calls.
func (p *Planner) settleClaimed(ctx context.Context, cfg PlannerConfig, lease store.Lease, listed map[string]bool, st *PlanStats) error {
	if len(lease.Rows) == 0 {
		return nil
	}
	now := p.now()
	outcomes := make([]store.Outcome, 0, len(lease.Rows))
	for _, r := range lease.Rows {
		final, seen := listed[r.CallID]
		o := store.Outcome{CallID: r.CallID}
		switch {
		case seen && final:
			o.State, o.Extra = store.StateDone, true
			st.Served++
		case seen && now.Sub(r.StartedAt) >= p.Intake.withDefaults().MaxPollAge:
			o.State = store.StateDone
			st.Served++
		case seen:
			o.State, o.Delay, o.Poll = store.StatePending, pollDelay(cfg.Recheck, r.Polls), true
			st.Rechecks++
		default:
			// Not listed: the list lags, or the hint was wrong. The call is
			// fetched alone after a while, unless a read shows it first.
			o.State, o.Delay, o.FetchBy = store.StatePending, cfg.FallbackWait, "get"
			st.Missed++
		}
		outcomes = append(outcomes, o)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	res, err := p.Store.Complete(wctx, lease.Token, outcomes)
	if err != nil {
		return err
	}
	for _, id := range res.Lost {
		p.Logger.Warn("lease lost before the row was settled; another worker has it", callIDAttr(id))
	}
	return nil
}

// release gives a read's claimed rows back, due now.
func (p *Planner) release(lease store.Lease) error {
	if len(lease.Rows) == 0 {
		return nil
	}
	ids := make([]string, len(lease.Rows))
	for i, r := range lease.Rows {
		ids[i] = r.CallID
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	return p.Store.Release(ctx, lease.Token, ids)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
