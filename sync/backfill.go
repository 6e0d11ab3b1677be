package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

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
	// Windows is how many windows are read at once, each with its own
	// pages and checkpoint. Zero means one at a time, in order.
	Windows int
}

// BackfillProgress is the state of a running backfill, passed to
// Backfiller.Progress after every page.
type BackfillProgress struct {
	Windows int // windows in the backfill
	Done    int // windows read to the end, skipped ones included (not failed or stopped ones)
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
	// over a set that grows shifts pages (or a page lists one id twice).
	Duplicates int
	// Rejected counts list entries whose call id no intake accepts (see
	// ValidateCallID): not stored.
	Rejected int
	Requests int // list requests sent, retries included
	Rescans  int // windows read again because counts differed
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
	API    *api.Client
	Store  *store.DB
	Logger *slog.Logger
	Config IntakeConfig
	// Progress, when set, is called after every page and window.
	Progress func(BackfillProgress)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Run backfills windows, opts.Windows of them at once (in order when one
// at a time). Windows that a checkpoint says are done are skipped unless
// opts.Refetch; a window stopped half-way continues at the page where it
// stopped. A window whose pages keep failing is reported in Failed and the
// next one is read; Run stops when ctx ends, on a store error, when the API
// refuses the key (ErrUnauthorized), or after several windows failed in a
// row, and returns the error with the report so far.
func (b *Backfiller) Run(ctx context.Context, windows []Window, opts BackfillOptions) (BackfillReport, error) {
	if opts.Rescans == 0 {
		opts.Rescans = 2
	}
	r := &backfillRun{b: b, cfg: b.Config.withDefaults(), opts: opts, start: b.now(),
		rep: BackfillReport{Windows: len(windows)}, prog: BackfillProgress{Windows: len(windows)}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(opts.Windows, 1))
	cps := map[string]map[[2]int64]store.Checkpoint{}
	for _, w := range windows {
		if gctx.Err() != nil {
			break // a window failed the run, or ctx ended
		}
		if _, ok := cps[w.ModelID]; !ok {
			m, err := b.checkpoints(gctx, w.ModelID, windows)
			if err != nil {
				r.fail(err)
				break
			}
			cps[w.ModelID] = m
		}
		cp, ok := cps[w.ModelID][key(w.From, w.To)]
		if !ok {
			cp = store.Checkpoint{ModelID: w.ModelID, From: w.From, To: w.To}
		}
		if cp.Done && !opts.Refetch {
			r.update(func() { r.rep.Skipped++; r.prog.Done++; r.prog.Skipped++ })
			continue
		}
		if opts.Refetch || opts.DryRun {
			cp.NextOffset = 0
		}
		g.Go(func() error {
			r.update(func() { r.prog.Current = w })
			res, err := r.window(gctx, cp)
			return r.settle(res, err)
		})
	}
	_ = g.Wait() // the first error is kept by settle and fail
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil && ctx.Err() != nil {
		r.err = ctx.Err()
	}
	return r.rep, r.err
}

// settle counts a window's result and returns an error when the run must
// stop: the context ended, the key was refused, the store failed, or too
// many windows failed in a row.
func (r *backfillRun) settle(res WindowResult, err error) error {
	r.mu.Lock()
	defer func() {
		r.b.progress(r.prog)
		r.mu.Unlock()
	}()
	switch {
	case err == nil:
		// Progress counts, as the report does, the windows read to the
		// end: not those stopped by the context or failed.
		r.prog.Done++
		r.failedInARow = 0
		r.rep.Done++
		if res.Total >= 0 && res.Total != res.Landed {
			r.rep.Mismatched = append(r.rep.Mismatched, res)
		}
		return nil
	case !errors.As(err, new(*windowError)):
		r.keep(err) // the context ended, the key was refused, or the store failed
		return err
	}
	r.failedInARow++
	res.Err = err
	r.rep.Failed = append(r.rep.Failed, res)
	r.b.Logger.Warn("backfill window failed; its checkpoint keeps the pages read", modelIDAttr(res.ModelID),
		"from", res.From, "to", res.To, errAttr(err))
	if r.failedInARow >= maxFailedInARow {
		err = fmt.Errorf("backfill: %d windows failed in a row; last: %w", r.failedInARow, err)
		r.keep(err)
		return err
	}
	return nil
}

// keep records the error that stops the run: the first one, unless it is
// the context's and a real cause comes after (the others' windows end with
// the cancelled context when one of them stops the run).
func (r *backfillRun) keep(err error) {
	if r.err == nil || (errors.Is(r.err, context.Canceled) && !errors.Is(err, context.Canceled)) {
		r.err = err
	}
}

// fail records an error that stops the run from outside any window.
func (r *backfillRun) fail(err error) {
	r.mu.Lock()
	r.keep(err)
	r.mu.Unlock()
}

// update changes the report or progress, and reports the progress.
func (r *backfillRun) update(f func()) {
	r.mu.Lock()
	f()
	r.b.progress(r.prog)
	r.mu.Unlock()
}

// backfillRun is the state of one Backfiller.Run, shared by the windows
// read at once: mu guards rep, prog, failedInARow and err.
type backfillRun struct {
	b     *Backfiller
	cfg   IntakeConfig
	opts  BackfillOptions
	start time.Time // when the run began: windows open then are never done

	mu           sync.Mutex
	rep          BackfillReport
	prog         BackfillProgress
	failedInARow int
	err          error // what stopped the run
}

// window reads one window to its end, then checks the warehouse's count of
// its calls against the API's and reads it again while fewer landed. The
// checkpoint is saved after every page.
func (r *backfillRun) window(ctx context.Context, cp store.Checkpoint) (WindowResult, error) {
	b, opts := r.b, r.opts
	w := Window{ModelID: cp.ModelID, From: cp.From, To: cp.To}
	res := WindowResult{Window: w, Total: -1, Landed: -1}
	seen := map[string]bool{}
	for rescans := 0; ; rescans++ {
		total, err := r.scan(ctx, &cp, seen)
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
		r.update(func() { r.rep.Rescans++ })
		cp.NextOffset = 0
	}
	// A window that was still open when the run began may get more calls:
	// it is never done, and a rerun reads it again from the start.
	cp.Done = !w.To.After(r.start)
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
