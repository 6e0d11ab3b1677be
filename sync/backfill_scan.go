package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// scan reads a window's pages from cp.NextOffset to the end, stores the
// calls not seen before and returns the last total_records (-1 unknown).
func (r *backfillRun) scan(ctx context.Context, cp *store.Checkpoint, seen map[string]bool) (int, error) {
	total := -1
	if cp.Total != nil {
		total = *cp.Total
	}
	// The next page is asked for while this one is stored: the API and the
	// database work at the same time.
	pctx, cancel := context.WithCancel(ctx)
	next := r.list(pctx, cp, cp.NextOffset)
	pending := true
	defer func() {
		// A page still being asked for is abandoned, and waited for: no
		// request outlives the scan.
		cancel()
		if pending {
			<-next
		}
	}()
	for {
		offset := cp.NextOffset
		l := <-next
		pending = false
		r.update(func() { r.rep.Requests += l.requests; r.prog.Requests = r.rep.Requests })
		if err := pageError(ctx, Window{cp.ModelID, cp.From, cp.To}, l.err); err != nil {
			return total, err
		}
		fresh := r.fresh(l.page, seen, cp.ModelID, offset)
		read := len(l.page.Calls) + len(l.page.Problems)
		last := lastPage(read, offset+read, l.page.Total, len(fresh), r.cfg.PageSize)
		if !last {
			next, pending = r.list(pctx, cp, offset+read), true
		}
		if err := r.store(ctx, cp, fresh, offset+read, l.page.Total); err != nil {
			return total, err
		}
		if l.page.Total >= 0 {
			total = l.page.Total
		}
		if last {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// listed is a list page as asked for, with the requests it took.
type listed struct {
	page     *api.CallPage
	err      error
	requests int
}

// list asks for the window's page at offset in the background.
func (r *backfillRun) list(ctx context.Context, cp *store.Checkpoint, offset int) <-chan listed {
	opts := api.ListOptions{ModelID: cp.ModelID, From: cp.From, To: cp.To, Limit: r.cfg.PageSize, Offset: offset}
	ch := make(chan listed, 1)
	go func() {
		var l listed
		l.page, l.err = request(ctx, r.cfg, &l.requests, func() (*api.CallPage, error) {
			return r.b.API.ListCalls(ctx, opts)
		})
		ch <- l
	}()
	return ch
}

// fresh returns the calls of page not seen before in the window, and logs
// the entries the page skipped.
func (r *backfillRun) fresh(page *api.CallPage, seen map[string]bool, model string, offset int) []*api.Call {
	for _, p := range page.Problems {
		r.b.Logger.Warn("list entry skipped", modelIDAttr(model), "offset", offset, "problem", p)
	}
	sp := screenPage(page, r.b.Logger, model, offset)
	if sp.rejected+sp.duplicates > 0 {
		r.update(func() { r.rep.Rejected += sp.rejected; r.rep.Duplicates += sp.duplicates })
	}
	fresh := make([]*api.Call, 0, len(sp.calls))
	for _, c := range sp.calls {
		if seen[c.ID] {
			r.update(func() { r.rep.Duplicates++ })
			continue
		}
		seen[c.ID] = true
		fresh = append(fresh, c)
	}
	return fresh
}

// store takes in a page's fresh calls and checkpoints the window at
// nextOffset, with the page's total_records when it sent one.
func (r *backfillRun) store(ctx context.Context, cp *store.Checkpoint, fresh []*api.Call, nextOffset, total int) error {
	in := intake{store: r.b.Store, log: r.b.Logger, cfg: r.cfg, model: cp.ModelID, now: r.start,
		enrich: r.opts.Enrich, dry: r.opts.DryRun}
	got, err := in.ingest(ctx, fresh)
	if err != nil {
		return err
	}
	r.update(func() {
		r.rep.Calls += got.calls
		r.rep.Unchanged += got.unchanged
		r.rep.Enqueued += got.enqueued
		r.rep.Erased += got.erased
		r.prog.Calls = r.rep.Calls
	})
	cp.NextOffset = nextOffset
	if total >= 0 {
		cp.Total = &total
	}
	if r.opts.DryRun {
		return nil
	}
	return r.b.Store.SaveCheckpoint(context.WithoutCancel(ctx), *cp)
}

// pageError classifies the error of a list request: the context's error,
// a refused key or unusable API as they are (they end the run), any other
// a windowError (the window fails).
func pageError(ctx context.Context, w Window, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrAPIUnavailable):
		return err
	default:
		return &windowError{w: w, err: err}
	}
}

// windowError is a list request of a window that failed for good: the
// window fails and the backfill goes on with the next one.
type windowError struct {
	w   Window
	err error
}

func (e *windowError) Error() string {
	to := "now"
	if !e.w.To.IsZero() {
		to = e.w.To.Format(time.RFC3339)
	}
	// The client's error names the model and the offset.
	return fmt.Sprintf("window [%s, %s): %v", e.w.From.Format(time.RFC3339), to, e.err)
}

func (e *windowError) Unwrap() error { return e.err }

// lastPage reports whether a page that held read entries, the fresh ones
// not seen before, ends a listing: the offset reached the total, or, when
// the API sent no total, the page was short or brought nothing new (an API
// that ignores the offset). A short page before the total does not end it:
// the API may cap pages below the limit asked for.
func lastPage(read, offset, total, fresh, limit int) bool {
	if total >= 0 {
		return read == 0 || offset >= total
	}
	return read < limit || fresh == 0
}
