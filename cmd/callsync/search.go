package main

import (
	"context"
	"fmt"
	"time"
)

func runSearchIndex(ctx context.Context, args []string, e env) error {
	f := newFlagSet("search-index", "search-index [flags] on|off|status\n\nCreates (on) or drops (off) the full-text index of transcript lines that makes the transcript_search view fast.\nIt is built without blocking the workers. Every transcript line written then updates it: see deploy/docs/bi.md for the cost.", e)
	verb, db, err := openVerb(ctx, f, args, e, "on", "off", "status")
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	if verb != "status" {
		if err := db.SetTranscriptSearch(ctx, verb == "on"); err != nil {
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
