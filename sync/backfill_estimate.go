package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callsync/callsync/api"
)

// ModelEstimate is what a backfill will read of one agent.
type ModelEstimate struct {
	ModelID string
	// From and To bound the windows left to read (none done before, unless
	// the estimate is of a refetch); zero when every window is done.
	From, To time.Time
	Windows  int // windows left to read
	Skipped  int // windows a checkpoint says are done
	Calls    int // the API's total_records for [From, To)
	Requests int // list requests the backfill of these windows will send, about
}

// BackfillEstimate is what a backfill will cost, counted with one list
// request per agent rather than by reading the windows.
type BackfillEstimate struct {
	Models []ModelEstimate
	// Windows, Skipped, Calls and Requests sum the models'.
	Windows, Skipped, Calls, Requests int
	// Fetches is the get requests --enrich adds: one per call.
	Fetches int
	// Sent counts the requests the estimate itself sent, retries included.
	Sent int
}

// Estimate counts, with one list request (limit 1) per agent, the calls a
// Run of windows with opts would read, and estimates the list requests it
// would send: each window left to read costs at least one request, and a
// page holds Config.PageSize calls, so with calls spread evenly over an
// agent's windows it sends windows × ⌈calls per window / page size⌉.
// Windows that a checkpoint says are done are left out unless
// opts.Refetch, as Run leaves them out. It writes nothing. It returns the
// estimate so far and an error when a request fails for good, the key is
// refused (matching ErrUnauthorized), the store fails or ctx ends.
func (b *Backfiller) Estimate(ctx context.Context, windows []Window, opts BackfillOptions) (BackfillEstimate, error) {
	cfg := b.Config.withDefaults()
	var est BackfillEstimate
	for start := 0; start < len(windows); {
		end := start
		for end < len(windows) && windows[end].ModelID == windows[start].ModelID {
			end++
		}
		m, err := b.estimateModel(ctx, cfg, windows[start:end], opts, &est.Sent)
		if err != nil {
			return est, err
		}
		est.Models = append(est.Models, m)
		est.Windows += m.Windows
		est.Skipped += m.Skipped
		est.Calls += m.Calls
		est.Requests += m.Requests
		start = end
	}
	if opts.Enrich {
		est.Fetches = est.Calls
	}
	return est, nil
}

// estimateModel estimates the backfill of one agent's windows.
func (b *Backfiller) estimateModel(ctx context.Context, cfg IntakeConfig, ws []Window, opts BackfillOptions, sent *int) (ModelEstimate, error) {
	m := ModelEstimate{ModelID: ws[0].ModelID}
	cps, err := b.checkpoints(ctx, m.ModelID, ws)
	if err != nil {
		return m, err
	}
	for _, w := range ws {
		if cp, ok := cps[key(w.From, w.To)]; ok && cp.Done && !opts.Refetch {
			m.Skipped++
			continue
		}
		m.Windows++
		if m.From.IsZero() || w.From.Before(m.From) {
			m.From = w.From
		}
		if w.To.After(m.To) {
			m.To = w.To
		}
	}
	if m.Windows == 0 {
		return m, nil
	}
	page, err := request(ctx, cfg, sent, func() (*api.CallPage, error) {
		return b.API.ListCalls(ctx, api.ListOptions{ModelID: m.ModelID, From: m.From, To: m.To, Limit: 1})
	})
	if err != nil {
		if ctx.Err() != nil {
			return m, ctx.Err()
		}
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrAPIUnavailable) {
			return m, err
		}
		return m, fmt.Errorf("count calls of model %s: %w", m.ModelID, err)
	}
	m.Calls = max(page.Total, 0)
	perWindow := (m.Calls + m.Windows - 1) / m.Windows
	m.Requests = m.Windows * max(1, (perWindow+cfg.PageSize-1)/cfg.PageSize)
	return m, nil
}
