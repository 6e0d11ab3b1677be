package sync

import (
	"context"
	"errors"
	"fmt"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// extra fetches one extra alone: a call stored from a list page with a
// final status, for the fields only a get returns (custom_end_call_reason,
// prompt_variables). It runs only when no read is due, at the lowest
// priority. A failure drops the extra (the call is stored and final); a
// 429 keeps it for later.
func (p *Planner) extra(ctx context.Context, cfg PlannerConfig) (PlanStats, error) {
	var st PlanStats
	lease, err := p.Store.ClaimExtras(ctx, 1, cfg.Lease)
	if err != nil || len(lease.Rows) == 0 {
		return st, err
	}
	row := lease.Rows[0]
	st.Extra = true
	release, err := p.Turns.Take(ctx, PriorityExtra)
	if err != nil {
		return st, errors.Join(err, p.release(lease))
	}
	p.Spend.Add(PurposeExtra)
	st.Requests++
	pl, err := p.API.GetPayload(ctx, row.CallID)
	release()
	o := store.Outcome{CallID: row.CallID, State: store.StateDone}
	switch {
	case err == nil:
		c, notes, nerr := decodeNormalized(pl, p.Intake.HashPhones)
		if nerr != nil {
			p.Logger.Warn("extra not stored; the call stays as listed", callIDAttr(row.CallID), errAttr(nerr))
			break
		}
		if len(notes) > 0 {
			p.Logger.Debug("extra stored with changes", callIDAttr(row.CallID))
		}
		o.Call = &c
	case errors.Is(err, api.ErrUnauthorized):
		return st, errors.Join(fmt.Errorf("%w: %w", ErrUnauthorized, err), p.release(lease))
	case errors.Is(err, api.ErrWrongURL), errors.Is(err, api.ErrUnreachable):
		return st, errors.Join(fmt.Errorf("%w: %w", ErrAPIUnavailable, err), p.release(lease))
	case errors.Is(err, api.ErrRateLimited), ctx.Err() != nil:
		o.Extra = true // later
	default:
		p.Logger.Debug("extra not fetched; the call stays as listed", callIDAttr(row.CallID), errAttr(err))
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	_, err = p.Store.Complete(wctx, lease.Token, []store.Outcome{o})
	return st, err
}

// decodeNormalized decodes and normalizes a fetched payload, phones hashed
// when hash is set.
func decodeNormalized(pl *api.Payload, hash *PhoneHasher) (store.Call, []string, error) {
	call, err := pl.Decode()
	if err != nil {
		return store.Call{}, nil, err
	}
	c, notes, err := Normalize(call)
	if err == nil {
		err = hash.apply(&c)
	}
	return c, notes, err
}

// delegate hands the one due row of a quiet agent to a get: a read would
// cost the same request and return fewer fields.
func (p *Planner) delegate(ctx context.Context, cfg PlannerConfig, model string) error {
	lease, err := p.Store.ClaimListed(ctx, model, 1, cfg.Lease, cfg.MaxListAge)
	if err != nil || len(lease.Rows) == 0 {
		return err
	}
	_, err = p.Store.Complete(ctx, lease.Token, []store.Outcome{{CallID: lease.Rows[0].CallID, State: store.StatePending, FetchBy: "get"}})
	return err
}
