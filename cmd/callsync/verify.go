package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	callsync "github.com/callsync/callsync/sync"
)

func runVerify(ctx context.Context, args []string, e env) error {
	f := newFlagSet("verify", "verify (--model-id M ... | --all-models) --from DATE --to DATE [--fix] [flags]\n\n"+
		"Compares, per agent and window (a day by default), the API's count of calls (one GET /v2/calls\n"+
		"request with limit=1 each) with the warehouse's, and prints the windows that differ. With --fix,\n"+
		"backfills the windows where the API has calls the warehouse lacks, then compares them again.", e)
	var lc logConfig
	var dc dbConfig
	var ac apiConfig
	var rc rangeConfig
	var fix bool
	var ic listIntakeConfig
	lc.register(f, "info")
	dc.register(f)
	ac.register(f)
	rc.register(f, "VERIFY_WINDOW", "window length: counts are compared per agent and window")
	f.BoolVar(&fix, "fix", false, "backfill the windows whose warehouse count is short, then verify them again")
	ic.register(f, "with --fix: ")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return usagef("verify: unexpected argument %q", f.Arg(0))
	}
	cfg, err := ic.config()
	if err != nil {
		return err
	}
	if err := rc.validate("verify"); err != nil {
		return err
	}
	logger, db, client, err := openAPI(ctx, e, &lc, dc, &ac)
	if err != nil {
		return err
	}
	defer db.Close()
	var modelRequests int
	windows, err := rc.windows(ctx, client, db, cfg, &modelRequests)
	if err != nil {
		return apiError(ac, err)
	}
	prog := newProgress("verify", e.stderr, logger)
	v := &callsync.Verifier{API: client, Store: db, Config: cfg, Progress: prog.update}
	rep, err := v.Verify(ctx, windows)
	prog.finish()
	if err != nil {
		return apiError(ac, err)
	}
	names := agentNames(ctx, db, logger)
	printVerify(e.stdout, rep, modelRequests, names)
	if !fix || fixable(rep.Diffs) == 0 {
		return verifyAdvice(e.stdout, rep.Diffs, fix)
	}
	b := &callsync.Backfiller{API: client, Store: db, Logger: withComponent(logger, componentBackfill), Config: cfg}
	after, err := verifyFix(ctx, e.stdout, v, b, rep.Diffs, names)
	if err != nil {
		return apiError(ac, err)
	}
	if n := fixable(after.Diffs); n > 0 {
		return fmt.Errorf("verify: %d windows still miss calls after --fix", n)
	}
	return verifyAdvice(e.stdout, after.Diffs, true)
}

// fixable counts the diffs that --fix can close: windows where the API has
// calls the warehouse lacks.
func fixable(diffs []callsync.Count) int {
	n := 0
	for _, d := range diffs {
		if d.Fixable() {
			n++
		}
	}
	return n
}

// verifyAdvice returns what to make of diffs, by the sign of each: "-"
// windows (calls missing from the warehouse) are what --fix backfills; "+"
// windows (calls the warehouse holds and the API's list does not show)
// stay as they are; nil when there are none. After --fix (fixed), "+"
// windows are no failure: --fix did all it can, and a note on w says why
// they remain.
func verifyAdvice(w io.Writer, diffs []callsync.Count, fixed bool) error {
	missing := fixable(diffs)
	var extra, unknown int
	for _, d := range diffs {
		switch {
		case d.API < 0:
			unknown++
		case d.API < d.Warehouse:
			extra++
		}
	}
	var parts []string
	if missing > 0 {
		parts = append(parts, fmt.Sprintf("%d windows miss calls (diff -): run the same command with --fix to backfill them and compare again", missing))
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d windows got no count from the API (diff ?): run verify again later", unknown))
	}
	if extra > 0 {
		plus := fmt.Sprintf("%d windows hold calls the API's list does not show (diff +): calls that came by webhook "+
			"or enqueue only, or were deleted or moved to another agent in Synthflow; the warehouse keeps them and --fix leaves them as they are", extra)
		if !fixed {
			parts = append(parts, plus)
		} else {
			fmt.Fprintf(w, "note: %s\n", plus)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("verify: %d windows differ; %s", len(diffs), strings.Join(parts, "; "))
}

// verifyFix backfills the windows of diffs with b, verifies them again with
// v, and prints both.
func verifyFix(ctx context.Context, w io.Writer, v *callsync.Verifier, b *callsync.Backfiller, diffs []callsync.Count,
	names map[string]string) (callsync.VerifyReport, error) {
	brep, err := b.Repair(ctx, diffs, callsync.BackfillOptions{})
	fmt.Fprintln(w)
	printBackfill(w, brep, 0, 0, false, names)
	if err != nil {
		return callsync.VerifyReport{}, err
	}
	var again []callsync.Window
	for _, d := range diffs {
		again = append(again, d.Window)
	}
	after, err := v.Verify(ctx, again)
	if err != nil {
		return callsync.VerifyReport{}, err
	}
	fmt.Fprintln(w, "\nafter --fix:")
	printVerify(w, after, 0, names)
	return after, nil
}

// printVerify prints the windows whose counts differ as a table.
func printVerify(w io.Writer, rep callsync.VerifyReport, modelRequests int, names map[string]string) {
	fmt.Fprintf(w, "verify: %d windows compared, %d differ, %d list requests", rep.Windows, len(rep.Diffs), rep.Requests)
	if modelRequests > 0 {
		fmt.Fprintf(w, " + %d to list agents", modelRequests)
	}
	fmt.Fprintln(w)
	if len(rep.Diffs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "agent\tmodel\tfrom\tto\tapi\twarehouse\tdiff\t")
	for _, d := range rep.Diffs {
		api := fmt.Sprint(d.API)
		diff := fmt.Sprintf("%+d", d.Warehouse-d.API)
		if d.API < 0 {
			api, diff = "?", "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", agentName(names, d.ModelID), d.ModelID, fmtTime(d.From), fmtTime(d.To), api, d.Warehouse, diff)
	}
	tw.Flush()
}
