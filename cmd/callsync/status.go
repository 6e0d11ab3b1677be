package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

func runStatus(ctx context.Context, args []string, e env) error {
	f := newFlagSet("status", "status [flags]\n\nPrints queue counts by state, the oldest due call, failures grouped by error, and the recordings archive.", e)
	var lc logConfig
	var dc dbConfig
	var groups int
	lc.register(f, "info")
	dc.register(f)
	f.IntVar(&groups, "failures", 10, "how many failure groups to show")
	if err := f.parse(args); err != nil {
		return err
	}
	_, db, err := openLogged(ctx, e, lc, dc, false)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Status(ctx, groups)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintln(w, "queue:")
	for _, s := range []store.State{store.StatePending, store.StateRunning, store.StateDone, store.StateFailed} {
		fmt.Fprintf(w, "  %-8s %d\n", s, st.Counts[s])
	}
	if st.Due > 0 {
		fmt.Fprintf(w, "due now: %d, oldest due for %s\n", st.Due, time.Since(st.OldestDue).Round(time.Second))
	} else {
		fmt.Fprintln(w, "due now: 0")
	}
	h, err := db.Health(ctx)
	if err != nil {
		return err
	}
	printPause(w, h)
	if p := st.Pending; st.Counts[store.StatePending] > 0 {
		fmt.Fprintln(w, "pending, by why they wait:")
		for _, r := range []struct {
			n   int
			why string
		}{
			{p.New, "new: not fetched yet"},
			{p.Polling, "waiting for a final status: stored, fetched again later (until --max-poll-age)"},
			{p.Retrying, "retrying after an error, with backoff (marked failed after --max-attempts)"},
			{p.RateLimited, "held back by a rate limit (429) or given back by a stopped pass"},
		} {
			if r.n > 0 {
				fmt.Fprintf(w, "  %6d  %s\n", r.n, r.why)
			}
		}
		if p.LastError != "" {
			fmt.Fprintf(w, "latest error of a pending call (%s, %s):\n  %s\n", p.LastErrorCall,
				p.LastErrorAt.UTC().Format(time.DateTime), p.LastError)
		}
	}
	if err := printSpend(ctx, w, db); err != nil {
		return err
	}
	if len(st.Failures) > 0 {
		fmt.Fprintln(w, "failures by error:")
		for _, g := range st.Failures {
			fmt.Fprintf(w, "  %6d  latest %s  e.g. %s\n          %s\n", g.Count, g.Latest.UTC().Format(time.DateTime), g.Example, g.Error)
		}
	}
	rs, err := db.RecordingStatus(ctx)
	if err != nil {
		return err
	}
	printRecordingStatus(w, rs)
	return nil
}

// printSpend prints the extras backlog and the API requests of the last
// hour by purpose.
func printSpend(ctx context.Context, w io.Writer, db *store.DB) error {
	extras, err := db.Extras(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "extras: %d calls stored from list pages wait for a get from the budget left over\n", extras)
	by, err := db.RequestsSince(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		return err
	}
	var total int64
	for _, n := range by {
		total += n
	}
	fmt.Fprintf(w, "API requests in the last hour: %d", total)
	for _, p := range []string{callsync.PurposeList, callsync.PurposeGet, callsync.PurposeExtra, callsync.PurposeAgents} {
		fmt.Fprintf(w, ", %s %d", p, by[p])
	}
	fmt.Fprintln(w)
	return nil
}
