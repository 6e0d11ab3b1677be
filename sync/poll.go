package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// DefaultPollLookback is how far before its watermark a poll starts
// listing: calls can show up in the list a while after they start.
const DefaultPollLookback = time.Hour

// Poller lists the calls of models started since their watermark minus a
// lookback, stores them and queues those that need a fetch, for
// workspaces that do not send webhooks. Its fields are set before Poll.
type Poller struct {
	API    *api.Client
	Store  *store.DB
	Logger *slog.Logger
	Config IntakeConfig
	// Lookback is subtracted from the watermark; zero means
	// DefaultPollLookback. A model never polled starts one lookback ago.
	Lookback time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// PollStats counts what a poll did.
type PollStats struct {
	Models    int // models polled to the end
	Failed    int // models whose poll failed; their watermark did not move
	Requests  int // list requests sent, retries included
	Calls     int // calls stored
	Unchanged int // of those, calls whose payload was already stored
	Enqueued  int // calls queued for a fetch of their own
	Erased    int // calls listed but skipped because they were erased
	Rejected  int // list entries whose call id no intake accepts: not stored
}

// Poll polls each model once. A model's watermark advances, to the start of
// the newest call stored, only when every page of its poll was stored, so
// that nothing before the watermark is left unread. A model whose requests
// keep failing is logged and counted in Failed and the others are polled;
// Poll returns an error then too. It stops at once when ctx ends, the API
// refuses the key (an error matching ErrUnauthorized) or the store fails.
func (p *Poller) Poll(ctx context.Context, models []string) (PollStats, error) {
	cfg := p.Config.withDefaults()
	var st PollStats
	var failed []error
	for _, m := range models {
		err := p.pollModel(ctx, cfg, m, &st)
		var we *windowError
		switch {
		case err == nil:
			st.Models++
		case errors.As(err, &we):
			st.Failed++
			failed = append(failed, err)
			p.Logger.Warn("poll failed; the watermark stays", modelIDAttr(m), errAttr(err))
		default:
			return st, err
		}
	}
	if len(failed) > 0 {
		return st, fmt.Errorf("poll: %d of %d models failed: %w", len(failed), len(models), errors.Join(failed...))
	}
	return st, nil
}

// pollModel lists one model's calls since its watermark minus the lookback,
// to the end, and advances the watermark.
func (p *Poller) pollModel(ctx context.Context, cfg IntakeConfig, model string, st *PollStats) error {
	lookback := p.Lookback
	if lookback <= 0 {
		lookback = DefaultPollLookback
	}
	now := p.now()
	wm, err := p.Store.Watermark(ctx, model)
	first := errors.Is(err, store.ErrNotFound)
	if err != nil && !first {
		return err
	}
	from := wm.Add(-lookback)
	if first {
		from = now.Add(-lookback)
	}
	in := intake{store: p.Store, log: p.Logger, cfg: cfg, model: model, now: now}
	newest, calls, err := p.listSince(ctx, in, from, st)
	if err != nil {
		return err
	}
	// Every page is stored. A model without calls yet keeps its place at
	// the start of this poll, so the next poll does not start later.
	to := newest
	if to.IsZero() {
		to = from
		if !first {
			to = wm
		}
	}
	got, err := p.Store.AdvanceWatermark(context.WithoutCancel(ctx), model, to)
	if err != nil {
		return err
	}
	p.Logger.Debug("model polled", modelIDAttr(model), "from", from, "calls", calls, "watermark", got)
	return nil
}

// listSince lists the model's calls started since from, page by page to
// the end, and takes them in. It returns the latest start time among them
// and how many calls it listed.
func (p *Poller) listSince(ctx context.Context, in intake, from time.Time, st *PollStats) (time.Time, int, error) {
	w := Window{ModelID: in.model, From: from}
	seen := map[string]bool{}
	var newest time.Time
	for offset := 0; ; {
		page, err := request(ctx, in.cfg, &st.Requests, func() (*api.CallPage, error) {
			return p.API.ListCalls(ctx, api.ListOptions{ModelID: in.model, From: from, Limit: in.cfg.PageSize, Offset: offset})
		})
		if err := pageError(ctx, w, err); err != nil {
			return newest, len(seen), err
		}
		sp := screenPage(page, p.Logger, in.model, offset)
		st.Rejected += sp.rejected
		fresh := make([]*api.Call, 0, len(sp.calls))
		for _, c := range sp.calls {
			if !seen[c.ID] {
				seen[c.ID] = true
				fresh = append(fresh, c)
			}
		}
		got, err := in.ingest(ctx, fresh)
		if err != nil {
			return newest, len(seen), err
		}
		st.Calls += got.calls
		st.Unchanged += got.unchanged
		st.Enqueued += got.enqueued
		st.Erased += got.erased
		if got.newest.After(newest) {
			newest = got.newest
		}
		read := len(page.Calls) + len(page.Problems)
		offset += read
		if lastPage(read, offset, page.Total, len(fresh), in.cfg.PageSize) {
			return newest, len(seen), nil
		}
		if err := ctx.Err(); err != nil {
			return newest, len(seen), err
		}
	}
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}
