package sync

import (
	"context"
	"errors"
	"fmt"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// Count is one window's number of calls by the API and by the warehouse.
type Count struct {
	Window
	// API is the API's total_records; -1 when it sent none.
	API int
	// Warehouse is the number of the window's calls the warehouse holds.
	Warehouse int
}

// differs reports whether the counts differ.
func (c Count) differs() bool { return c.API != c.Warehouse }

// Fixable reports whether a backfill of the window can close the
// difference: the API has calls the warehouse lacks. Calls the warehouse
// holds beyond the API's count (deleted from Synthflow, or moved to another
// agent) are kept.
func (c Count) Fixable() bool { return c.API > c.Warehouse }

// VerifyReport says what Verify found.
type VerifyReport struct {
	Windows  int     // windows compared
	Requests int     // list requests sent, retries included
	Diffs    []Count // windows whose counts differ, in the order given
}

// Verifier compares the API's count of calls with the warehouse's, window
// by window, at the cost of one list request (limit 1) per window.
type Verifier struct {
	API    *api.Client
	Store  *store.DB
	Config IntakeConfig
	// Progress, when set, is called after every window compared: Done
	// counts the windows, Calls the calls the API counted so far.
	Progress func(BackfillProgress)
}

// Verify compares the counts of windows. It returns the report so far and
// an error when a request fails for good, the key is refused (matching
// ErrUnauthorized), the store fails or ctx ends.
func (v *Verifier) Verify(ctx context.Context, windows []Window) (VerifyReport, error) {
	cfg := v.Config.withDefaults()
	rep := VerifyReport{}
	prog := BackfillProgress{Windows: len(windows)}
	for start := 0; start < len(windows); {
		end := start
		for end < len(windows) && windows[end].ModelID == windows[start].ModelID {
			end++
		}
		ws := windows[start:end]
		ranges := make([]store.Range, len(ws))
		for i, w := range ws {
			ranges[i] = store.Range{From: w.From, To: w.To}
		}
		counts, err := v.Store.CountCalls(ctx, ws[0].ModelID, ranges)
		if err != nil {
			return rep, err
		}
		for i, w := range ws {
			page, err := request(ctx, cfg, &rep.Requests, func() (*api.CallPage, error) {
				return v.API.ListCalls(ctx, api.ListOptions{ModelID: w.ModelID, From: w.From, To: w.To, Limit: 1})
			})
			if err != nil {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				if errors.Is(err, ErrUnauthorized) {
					return rep, err
				}
				return rep, fmt.Errorf("verify %s: %w", w, err)
			}
			rep.Windows++
			page.Total = plausibleTotal(page.Total)
			if c := (Count{Window: w, API: page.Total, Warehouse: counts[i]}); c.differs() {
				rep.Diffs = append(rep.Diffs, c)
			}
			if v.Progress != nil {
				prog.Done, prog.Requests, prog.Current = rep.Windows, rep.Requests, w
				prog.Calls += max(page.Total, 0)
				v.Progress(prog)
			}
		}
		start = end
	}
	return rep, nil
}

// Repair backfills the windows of diffs that a backfill can fix (the API
// counts more calls than the warehouse holds), reading them again whatever
// their checkpoints say. It returns Run's report and error.
func (b *Backfiller) Repair(ctx context.Context, diffs []Count, opts BackfillOptions) (BackfillReport, error) {
	var windows []Window
	for _, d := range diffs {
		if d.Fixable() {
			windows = append(windows, d.Window)
		}
	}
	opts.Refetch = true
	return b.Run(ctx, windows, opts)
}
