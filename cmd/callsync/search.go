package main

import (
	"context"
	"fmt"
	"time"
)

func runSearchIndex(ctx context.Context, args []string, e env) error {
	f := newFlagSet("search-index", "search-index [flags] on|off|status\n\nCreates (on) or drops (off) the full-text index of transcript lines that makes the transcript_search view fast.\nIt is built without blocking the workers. Every transcript line written then updates it: see the README for the cost.", e)
	var lc logConfig
	var dc dbConfig
	lc.register(f, "info")
	dc.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 || (f.Arg(0) != "on" && f.Arg(0) != "off" && f.Arg(0) != "status") {
		return usagef("search-index: want one argument: on, off or status")
	}
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, dc, logger, true)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	if f.Arg(0) != "status" {
		if err := db.SetTranscriptSearch(ctx, f.Arg(0) == "on"); err != nil {
			return err
		}
	}
	on, err := db.TranscriptSearch(ctx)
	if err != nil {
		return err
	}
	state := "off: transcript_search reads every line"
	if on {
		state = "on: transcript_search uses transcript_lines_search_idx"
	}
	fmt.Fprintf(e.stdout, "transcript search index %s (%s)\n", state, time.Since(start).Round(time.Millisecond))
	return nil
}
