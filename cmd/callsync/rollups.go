package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/store"
)

func runRollups(ctx context.Context, args []string, e env) error {
	f := newFlagSet("rollups", "rollups [flags] fold|rebuild|status\n\n"+
		"The daily views (daily_call_stats, daily_action_outcomes, daily_judgement_results) read per-day rollups,\n"+
		"and aggregate live the days and agents whose calls changed since the last fold. Workers fold after\n"+
		"every pass; fold does it now, rebuild recomputes every rollup row from the calls, status counts.", e)
	verb, db, err := openVerb(ctx, f, args, e, "fold", "rebuild", "status")
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	switch verb {
	case "fold":
		n, err := db.FoldRollups(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rollups: %d changed day(s) and agent(s) folded in %s\n", n, time.Since(start).Round(time.Millisecond))
	case "rebuild":
		if err := db.RebuildRollups(ctx); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rollups: rebuilt in %s\n", time.Since(start).Round(time.Millisecond))
	}
	st, err := db.RollupStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rollups: %d row(s) of daily_call_stats, %d of daily_action_outcomes, %d of daily_judgement_results; %d day(s) and agent(s) to fold\n",
		st.Rows["daily_call_stats_rollup"], st.Rows["daily_action_outcomes_rollup"], st.Rows["daily_judgement_results_rollup"], st.Dirty)
	return nil
}

// foldRollups folds the rollups after work that changed calls, unless ctx
// is done (a shutdown: the next fold does it), logging to logger (tagged
// componentRollups). A failure is logged, not returned: the daily views
// stay exact, only slower until a fold succeeds.
func foldRollups(ctx context.Context, db *store.DB, logger *slog.Logger) {
	if ctx.Err() != nil {
		return
	}
	start := time.Now()
	n, err := db.FoldRollups(ctx)
	if err != nil {
		logger.Warn("rollups not folded: the daily views aggregate the changed days live until the next fold", tint.Err(err))
		return
	}
	if n > 0 {
		logger.Info("rollups folded", "keys", n, attrTook, time.Since(start))
	}
}
