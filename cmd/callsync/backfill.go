package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

func runBackfill(ctx context.Context, args []string, e env) error {
	s, err := parseBackfill(args, e)
	if err != nil {
		return err
	}
	logger, db, client, err := openAPI(ctx, e, &s.lc, s.dc, &s.ac)
	if err != nil {
		return err
	}
	defer db.Close()
	var modelRequests int
	var agents callsync.AgentStore = db
	if s.opts.DryRun {
		agents = nil // a dry run writes nothing, agents included
	}
	windows, err := s.rc.windows(ctx, client, agents, s.cfg, &modelRequests)
	if err != nil {
		return apiError(s.ac, err)
	}
	if s.opts.DryRun {
		b := &callsync.Backfiller{API: client, Store: db, Logger: withComponent(logger, componentBackfill), Config: s.cfg}
		est, err := b.Estimate(ctx, windows, s.opts)
		if err != nil {
			return apiError(s.ac, err)
		}
		printEstimate(e.stdout, est, modelRequests, s.ac, agentNames(ctx, db, logger))
		return nil
	}
	prog := newProgress("backfill", e.stderr, logger)
	b := &callsync.Backfiller{API: client, Store: db, Logger: withComponent(logger, componentBackfill), Config: s.cfg, Progress: prog.update}
	start := time.Now()
	rep, err := b.Run(ctx, windows, s.opts)
	prog.finish()
	if !s.opts.DryRun {
		foldRollups(ctx, db, withComponent(logger, componentRollups))
	}
	names := agentNames(ctx, db, logger)
	printBackfill(e.stdout, rep, modelRequests, time.Since(start), s.opts.DryRun, names)
	if err == nil && !s.rc.allModels {
		warnEmptyModels(ctx, e.stderr, db, s.rc, names, logger)
	}
	return backfillError(ctx, s.ac, rep, err)
}

// backfillSettings is what backfill's command line and environment say.
type backfillSettings struct {
	lc   logConfig
	dc   dbConfig
	ac   apiConfig
	rc   rangeConfig
	opts callsync.BackfillOptions
	cfg  callsync.IntakeConfig
}

// parseBackfill reads backfill's flags and environment and checks them.
func parseBackfill(args []string, e env) (backfillSettings, error) {
	f := newFlagSet("backfill", "backfill (--model-id M ... | --all-models) --from DATE --to DATE [flags]\n\n"+
		"Stores the calls started in [--from, --to) straight from list pages (GET /v2/calls, 100 calls a request),\n"+
		"window by window, and queues for a fetch of their own only the calls that need one. Progress is\n"+
		"checkpointed: run the same command again to continue where it stopped.", e)
	var s backfillSettings
	var rescans int
	var ic listIntakeConfig
	lc, dc, ac, rc, opts := &s.lc, &s.dc, &s.ac, &s.rc, &s.opts
	lc.register(f, "info")
	dc.register(f)
	ac.register(f)
	rc.register(f, "BACKFILL_WINDOW", "window length: each window is listed and checkpointed on its own")
	f.BoolVar(&opts.Enrich, "enrich", false, "also queue every call for GET /v2/calls/{id}, for prompt_variables and custom_end_call_reason (one request per call)")
	f.BoolVar(&opts.Refetch, "refetch", false, "read windows again that a checkpoint says are done")
	f.BoolVar(&opts.DryRun, "dry-run", false, "count the calls with one request per agent and estimate the backfill's requests and time, writing nothing")
	f.intVar(&rescans, "rescans", "BACKFILL_RESCANS", 2, "times a window is read again while fewer calls landed than the API counts")
	f.intVar(&opts.Windows, "windows-at-once", "BACKFILL_WINDOWS_AT_ONCE", 4, "windows read at the same time, each with its own pages and checkpoint (1: one after another, in order)")
	ic.register(f, "")
	if err := f.parse(args); err != nil {
		return s, err
	}
	if f.NArg() > 0 {
		return s, usagef("backfill: unexpected argument %q", f.Arg(0))
	}
	cfg, err := ic.config()
	if err != nil {
		return s, err
	}
	s.cfg = cfg
	if err := rc.validate("backfill"); err != nil {
		return s, err
	}
	if opts.Windows < 1 {
		return s, usagef("--windows-at-once (BACKFILL_WINDOWS_AT_ONCE) must be at least 1, got %d", opts.Windows)
	}
	opts.Rescans = rescans
	if rescans == 0 {
		opts.Rescans = -1 // zero on the command line means none
	}
	return s, nil
}

// backfillError is what a backfill that ended with rep and err returns:
// what to do next, or nil when every window was read.
func backfillError(ctx context.Context, ac apiConfig, rep callsync.BackfillReport, err error) error {
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("backfill stopped before the end; run the same command again to continue")
	case errors.Is(err, callsync.ErrAPIUnavailable):
		return ac.urlError(err) // the same command cannot help: the setting must change
	case err != nil:
		return apiError(ac, err)
	case len(rep.Failed) > 0:
		return fmt.Errorf("backfill: %d windows failed (their checkpoints keep the pages read); run the same command again to continue", len(rep.Failed))
	}
	return nil
}

// warnEmptyModels warns about each agent given with --model-id that has no
// call in the warehouse for the range after the backfill: most often a
// mistyped id, which the API answers with an empty list, not an error.
func warnEmptyModels(ctx context.Context, w io.Writer, db *store.DB, rc rangeConfig, names map[string]string, logger *slog.Logger) {
	for _, m := range rc.models {
		counts, err := db.CountCalls(ctx, m, []store.Range{{From: rc.fromT, To: rc.toT}})
		if err != nil {
			logger.Warn("count the calls of an agent", "model_id", m, tint.Err(err))
			continue
		}
		if counts[0] > 0 {
			continue
		}
		known := ""
		if len(names) > 0 && names[m] == "" {
			known = " and it is not among the workspace's agents"
		}
		fmt.Fprintf(w, "warning: agent %q has no calls from %s to %s%s; check the id ('callsync agents' lists the workspace's agents, or use --all-models)\n",
			m, fmtTime(rc.fromT), fmtTime(rc.toT), known)
	}
}

// printBackfill prints a backfill's summary, the windows whose counts still
// differ and the windows that failed.
func printBackfill(w io.Writer, rep callsync.BackfillReport, modelRequests int, took time.Duration, dry bool, names map[string]string) {
	verb, queued := "stored", "queued for a fetch"
	if dry {
		verb, queued = "listed (dry run: nothing written)", "would be queued for a fetch"
	}
	fmt.Fprintf(w, "backfill: %d of %d windows read to the end in this run", rep.Done, rep.Windows)
	if rep.Skipped > 0 {
		fmt.Fprintf(w, " (%d done before, skipped)", rep.Skipped)
	}
	if left := rep.Windows - rep.Done - rep.Skipped; left > 0 {
		fmt.Fprintf(w, ", %d left", left)
	}
	fmt.Fprintf(w, "; %d calls %s", rep.Calls, verb)
	if !dry {
		fmt.Fprintf(w, " (%d unchanged)", rep.Unchanged)
	}
	fmt.Fprintf(w, ", %d %s, %d list requests", rep.Enqueued, queued, rep.Requests)
	if modelRequests > 0 {
		fmt.Fprintf(w, " + %d to list agents", modelRequests)
	}
	fmt.Fprintf(w, ", %d duplicates, %d rescans", rep.Duplicates, rep.Rescans)
	if rep.Rejected > 0 {
		fmt.Fprintf(w, ", %d entries with a call id no intake accepts skipped", rep.Rejected)
	}
	if rep.Erased > 0 {
		fmt.Fprintf(w, ", %d erased calls skipped", rep.Erased)
	}
	if took > 0 {
		fmt.Fprintf(w, ", in %s", took.Round(time.Second))
	}
	fmt.Fprintln(w)
	if len(rep.Mismatched) > 0 {
		fmt.Fprintf(w, "\n%d windows still differ from the API's count (callsync verify --fix reads them again):\n", len(rep.Mismatched))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "agent\tmodel\tfrom\tto\tapi\twarehouse\t")
		for _, m := range rep.Mismatched {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t\n", agentName(names, m.ModelID), m.ModelID, fmtTime(m.From), fmtTime(m.To), m.Total, m.Landed)
		}
		tw.Flush()
	}
	for _, fw := range rep.Failed {
		fmt.Fprintf(w, "failed: %v\n", fw.Err)
	}
}
