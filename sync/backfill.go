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

// BackfillStore is the part of *store.DB that a backfill uses.
type BackfillStore interface {
	CallSaver
	CallCounter
	CheckpointStore
}

// CallCounter counts the warehouse's calls of a model per time range.
// *store.DB implements it.
type CallCounter interface {
	CountCalls(ctx context.Context, modelID string, ranges []store.Range) ([]int, error)
}

// CheckpointStore keeps the progress of backfill windows. *store.DB
// implements it.
type CheckpointStore interface {
	Checkpoints(ctx context.Context, modelID string, from, to time.Time) ([]store.Checkpoint, error)
	SaveCheckpoint(ctx context.Context, c store.Checkpoint) error
}

// BackfillOptions say how to backfill.
type BackfillOptions struct {
	// Enrich queues every call for a fetch from the get endpoint, for the
	// fields only it sends (prompt_variables, custom_end_call_reason).
	Enrich bool
	// Refetch reads windows again that a checkpoint says are done.
	Refetch bool
	// DryRun lists and counts without writing calls, queue rows or
	// checkpoints.
	DryRun bool
	// Rescans is how many more times a window is read when fewer of its
	// calls landed than the API counts. Zero means 2; negative means none.
	Rescans int
}

// BackfillProgress is the state of a running backfill, passed to
// Backfiller.Progress after every page.
type BackfillProgress struct {
	Windows int // windows in the backfill
	Done    int // windows finished, skipped ones included
	Skipped int // windows skipped because a checkpoint says they are done
	// Calls counts the calls listed and stored (listed, in a dry run).
	Calls    int
	Requests int    // list requests sent
	Current  Window // the window being read
}

// WindowResult is a window whose count did not match or that failed.
type WindowResult struct {
	Window
	// Total is the API's total_records (-1 unknown); Landed the warehouse's
	// count of the window's calls (in a dry run, the calls listed).
	Total, Landed int
	// Err is why the window failed; nil for a mismatch.
	Err error
}

// BackfillReport says what a backfill did.
type BackfillReport struct {
	Windows  int // windows in the backfill
	Skipped  int // already done, not read
	Done     int // read to the end (closed windows are checkpointed as done)
	Calls    int // calls stored from list pages (in a dry run: listed)
	Enqueued int // calls queued for a fetch of their own
	Erased   int // calls listed but skipped because they were erased
	// Unchanged counts stored calls whose payload was already stored.
	Unchanged int
	// Duplicates counts calls listed again within a window: offset paging
	// over a set that grows shifts pages.
	Duplicates int
	Requests   int // list requests sent, retries included
	Rescans    int // windows read again because counts differed
	// Mismatched lists windows whose count still differs from the API's.
	Mismatched []WindowResult
	// Failed lists windows that could not be read; their checkpoints keep
	// the progress made.
	Failed []WindowResult
}

// maxFailedInARow stops a backfill whose windows keep failing: the API is
// down, and trying every remaining window would only burn time.
const maxFailedInARow = 3

// Backfiller writes calls straight from list pages, window by window, and
// checkpoints its progress. Its fields are set before Run.
type Backfiller struct {
	API    CallLister
	Store  BackfillStore
	Logger *slog.Logger
	Config IntakeConfig
	// Progress, when set, is called after every page and window.
	Progress func(BackfillProgress)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Run backfills windows in order. Windows that a checkpoint says are done
// are skipped unless opts.Refetch; a window stopped half-way continues at
// the page where it stopped. A window whose pages keep failing is reported
// in Failed and the next one is read; Run stops when ctx ends, on a store
// error, when the API refuses the key (ErrUnauthorized), or after several
// windows failed in a row, and returns the error with the report so far.
func (b *Backfiller) Run(ctx context.Context, windows []Window, opts BackfillOptions) (BackfillReport, error) {
	cfg := b.Config.withDefaults()
	if opts.Rescans == 0 {
		opts.Rescans = 2
	}
	rep := BackfillReport{Windows: len(windows)}
	prog := BackfillProgress{Windows: len(windows)}
	start := b.now()
	cps := map[string]map[[2]int64]store.Checkpoint{}
	failedInARow := 0
	for _, w := range windows {
		if _, ok := cps[w.ModelID]; !ok {
			m, err := b.checkpoints(ctx, w.ModelID, windows)
			if err != nil {
				return rep, err
			}
			cps[w.ModelID] = m
		}
		cp, ok := cps[w.ModelID][key(w.From, w.To)]
		if !ok {
			cp = store.Checkpoint{ModelID: w.ModelID, From: w.From, To: w.To}
		}
		if cp.Done && !opts.Refetch {
			rep.Skipped++
			prog.Done++
			prog.Skipped++
			b.progress(prog)
			continue
		}
		if opts.Refetch || opts.DryRun {
			cp.NextOffset = 0
		}
		prog.Current = w
		res, err := b.window(ctx, cfg, opts, cp, start, &rep, &prog)
		switch {
		case err == nil:
			failedInARow = 0
			rep.Done++
			if res.Total >= 0 && res.Total != res.Landed {
				rep.Mismatched = append(rep.Mismatched, res)
			}
		case !errors.As(err, new(*windowError)):
			return rep, err // the context ended, the key was refused, or the store failed
		default:
			failedInARow++
			res.Err = err
			rep.Failed = append(rep.Failed, res)
			b.Logger.Warn("backfill window failed; its checkpoint keeps the pages read", modelIDAttr(w.ModelID),
				"from", w.From, "to", w.To, errAttr(err))
			if failedInARow >= maxFailedInARow {
				return rep, fmt.Errorf("backfill: %d windows failed in a row; last: %w", failedInARow, err)
			}
		}
		prog.Done++
		b.progress(prog)
	}
	return rep, nil
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

// window reads one window to its end, then checks the warehouse's count of
// its calls against the API's and reads it again while fewer landed. The
// checkpoint is saved after every page.
func (b *Backfiller) window(ctx context.Context, cfg IntakeConfig, opts BackfillOptions, cp store.Checkpoint,
	runStart time.Time, rep *BackfillReport, prog *BackfillProgress) (WindowResult, error) {
	w := Window{ModelID: cp.ModelID, From: cp.From, To: cp.To}
	res := WindowResult{Window: w, Total: -1, Landed: -1}
	seen := map[string]bool{}
	for rescans := 0; ; rescans++ {
		total, err := b.scan(ctx, cfg, opts, &cp, seen, runStart, rep, prog)
		if err != nil {
			return res, err
		}
		cp.Scans++
		landed := len(seen)
		if !opts.DryRun {
			counts, err := b.Store.CountCalls(ctx, w.ModelID, []store.Range{{From: w.From, To: w.To}})
			if err != nil {
				return res, err
			}
			landed = counts[0]
		}
		res.Total, res.Landed = total, landed
		cp.Landed = &landed
		if total < 0 || landed >= total || rescans >= opts.Rescans {
			break
		}
		b.Logger.Info("fewer calls landed than the API counts; reading the window again", modelIDAttr(w.ModelID),
			"from", w.From, "to", w.To, "total_records", total, "landed", landed)
		rep.Rescans++
		cp.NextOffset = 0
	}
	// A window that was still open when the run began may get more calls:
	// it is never done, and a rerun reads it again from the start.
	cp.Done = !w.To.After(runStart)
	cp.NextOffset = 0
	if !opts.DryRun {
		if err := b.Store.SaveCheckpoint(context.WithoutCancel(ctx), cp); err != nil {
			return res, err
		}
	}
	if res.Total >= 0 && res.Total != res.Landed {
		b.Logger.Warn("window count still differs from the API's", modelIDAttr(w.ModelID), "from", w.From,
			"to", w.To, "total_records", res.Total, "landed", res.Landed)
	}
	return res, nil
}

// scan reads a window's pages from cp.NextOffset to the end, stores the
// calls not seen before and returns the last total_records (-1 unknown).
func (b *Backfiller) scan(ctx context.Context, cfg IntakeConfig, opts BackfillOptions, cp *store.Checkpoint,
	seen map[string]bool, now time.Time, rep *BackfillReport, prog *BackfillProgress) (int, error) {
	total := -1
	if cp.Total != nil {
		total = *cp.Total
	}
	// The next page is asked for while this one is stored: the API and the
	// database work at the same time.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetch := func(offset int) <-chan listed {
		ch := make(chan listed, 1)
		go func() {
			var l listed
			l.page, l.err = request(pctx, cfg, &l.requests, func() (*api.CallPage, error) {
				return b.API.ListCalls(pctx, api.ListOptions{ModelID: cp.ModelID, From: cp.From, To: cp.To,
					Limit: cfg.PageSize, Offset: offset})
			})
			ch <- l
		}()
		return ch
	}
	next := fetch(cp.NextOffset)
	for {
		offset := cp.NextOffset
		l := <-next
		page, err := l.page, l.err
		rep.Requests += l.requests
		prog.Requests = rep.Requests
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return total, ctx.Err()
		case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrAPIUnavailable):
			return total, err
		default:
			return total, &windowError{w: Window{cp.ModelID, cp.From, cp.To}, err: err}
		}
		for _, p := range page.Problems {
			b.Logger.Warn("list entry skipped", modelIDAttr(cp.ModelID), "offset", offset, "problem", p)
		}
		fresh := make([]*api.Call, 0, len(page.Calls))
		for _, c := range page.Calls {
			if seen[c.ID] {
				rep.Duplicates++
				continue
			}
			seen[c.ID] = true
			fresh = append(fresh, c)
		}
		read := len(page.Calls) + len(page.Problems)
		last := lastPage(read, offset+read, page.Total, len(fresh), cfg.PageSize)
		if !last {
			next = fetch(offset + read)
		}
		got, err := ingest(ctx, b.Store, b.Logger, cfg, cp.ModelID, fresh, now, opts.Enrich, opts.DryRun)
		if err != nil {
			return total, err
		}
		rep.Calls += got.calls
		rep.Unchanged += got.unchanged
		rep.Enqueued += got.enqueued
		rep.Erased += got.erased
		prog.Calls = rep.Calls
		cp.NextOffset = offset + read
		if page.Total >= 0 {
			total = page.Total
			cp.Total = &page.Total
		}
		if !opts.DryRun {
			if err := b.Store.SaveCheckpoint(context.WithoutCancel(ctx), *cp); err != nil {
				return total, err
			}
		}
		b.progress(*prog)
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

// checkpoints loads the checkpoints of a model's windows, keyed by bounds.
func (b *Backfiller) checkpoints(ctx context.Context, model string, windows []Window) (map[[2]int64]store.Checkpoint, error) {
	var from, to time.Time
	for _, w := range windows {
		if w.ModelID != model {
			continue
		}
		if from.IsZero() || w.From.Before(from) {
			from = w.From
		}
		if w.To.After(to) {
			to = w.To
		}
	}
	list, err := b.Store.Checkpoints(ctx, model, from, to)
	if err != nil {
		return nil, err
	}
	m := make(map[[2]int64]store.Checkpoint, len(list))
	for _, c := range list {
		m[key(c.From, c.To)] = c
	}
	return m, nil
}

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

func key(from, to time.Time) [2]int64 { return [2]int64{from.UnixMilli(), to.UnixMilli()} }

func (b *Backfiller) progress(p BackfillProgress) {
	if b.Progress != nil {
		b.Progress(p)
	}
}

func (b *Backfiller) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}
