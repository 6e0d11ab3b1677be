package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/store"
)

func runPrune(ctx context.Context, args []string, e env) error {
	f := newFlagSet("prune", "prune [flags]\n\n"+
		"Applies retention: removes from calls older than each SYNC_RETAIN_* setting that class of personal data,\n"+
		"and marks them pruned so that no later sync brings it back. Calls keep their facts (status, times,\n"+
		"durations, agent, counts). Archived recordings of pruned calls (SYNC_RETAIN_RECORDINGS, SYNC_RETAIN_CALLS)\n"+
		"are deleted from the recordings storage (SYNC_RECORDINGS_URL). 'callsync run' does this once a day.", e)
	var lc logConfig
	var dc dbConfig
	var rc retentionConfig
	var recs recordingsConfig
	lc.register(f, "info")
	dc.register(f)
	rc.register(f)
	recs.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return usagef("prune: unexpected argument %q", f.Arg(0))
	}
	r, err := rc.retention()
	if err != nil {
		return err
	}
	if err := recs.validate(); err != nil {
		return err
	}
	if r == (store.Retention{}) {
		return usagef("prune: no retention set: set SYNC_RETAIN_TRANSCRIPTS, SYNC_RETAIN_RECORDINGS, SYNC_RETAIN_VARIABLES or SYNC_RETAIN_CALLS (e.g. 90d)")
	}
	logger, db, err := openLogged(ctx, e, lc, dc, true)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := db.Prune(ctx, r)
	printPruned(e.stdout, p)
	foldRollups(ctx, db, withComponent(logger, componentRollups))
	if err != nil {
		return err
	}
	return deleteMarkedRecordings(ctx, &recs, db, func(format string, a ...any) { fmt.Fprintf(e.stdout, format, a...) })
}

func printPruned(w io.Writer, p store.Pruned) {
	fmt.Fprintf(w, "pruned: %d transcripts, %d recordings, %d variable sets (calls that had them), %d calls' details, "+
		"%d webhook judgement sets waiting for their calls, %d kept failures of queue rows\n",
		p.Transcripts, p.Recordings, p.Variables, p.Calls, p.HookJudgements, p.Failures)
}

// pruneDaily returns the job that run schedules once a day: it applies
// retention, logs what it did and folds the rollups (logging to rollups).
func pruneDaily(ctx context.Context, db *store.DB, r store.Retention, logger, rollups *slog.Logger) func() {
	return func() {
		start := time.Now()
		p, err := db.Prune(ctx, r)
		if err != nil {
			logger.Error("retention prune failed", tint.Err(err))
			return
		}
		logger.Info("retention applied", "transcripts", p.Transcripts, "recordings", p.Recordings,
			"variables", p.Variables, "calls", p.Calls, "webhook_judgements", p.HookJudgements, "failures", p.Failures, attrTook, time.Since(start).Round(time.Millisecond))
		foldRollups(ctx, db, rollups)
	}
}
