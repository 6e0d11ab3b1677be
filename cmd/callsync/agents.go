package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

func runAgents(ctx context.Context, args []string, e env) error {
	f := newFlagSet("agents", "agents [flags]\n\nLists the agents of GET /v2/assistants/ into the agents table (agents no longer listed are marked deleted, never removed) and prints them.", e)
	var lc logConfig
	var dc dbConfig
	var ac apiConfig
	lc.register(f, "info")
	dc.register(f)
	ac.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return usagef("agents: unexpected argument %q", f.Arg(0))
	}
	_, db, client, err := openAPI(ctx, e, &lc, dc, &ac)
	if err != nil {
		return err
	}
	defer db.Close()
	var sent int
	_, saved, err := callsync.RefreshAgents(ctx, client, db, callsync.IntakeConfig{}, &sent)
	if err != nil {
		return apiError(ac, err)
	}
	rows, err := db.ListAgents(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "agents: %d listed (%d new), %d marked deleted, %d named by calls but never listed; %d requests\n",
		saved.Listed, saved.New, saved.Deleted, saved.Unseen, sent)
	printAgents(e.stdout, rows)
	return nil
}

// printAgents prints the agents table.
func printAgents(w io.Writer, rows []store.AgentRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "agent\tmodel\ttype\tphone\tcalls\tdeleted\t")
	for _, a := range rows {
		deleted := ""
		if a.DeletedAt != nil {
			deleted = a.DeletedAt.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t\n", deref(a.Name), a.ModelID, deref(a.Type), deref(a.Phone), a.Calls, deleted)
	}
	tw.Flush()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// agentNames reads the agents' names for printed tables; without them the
// tables show ids only, so a failure is logged, not returned.
func agentNames(ctx context.Context, db *store.DB, logger *slog.Logger) map[string]string {
	names, err := db.AgentNames(ctx)
	if err != nil && ctx.Err() == nil { // a stop asked for is no warning: the summary goes without names
		logger.Warn("agent names unavailable", tint.Err(err))
	}
	return names
}

// agentName is the name of a model's agent, or "?" when unknown.
func agentName(names map[string]string, model string) string {
	if n, ok := names[model]; ok {
		return n
	}
	return "?"
}

// refreshAgents refreshes the agents table when due (after the first pass,
// every interval, and when the pass stored a call of an unknown agent). A failure is logged
// and retried at the next tick: names are a convenience, calls are not.
func refreshAgents(ctx context.Context, r *callsync.AgentRefresher, logger *slog.Logger) {
	saved, refreshed, err := r.Maybe(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		logger.Warn("agents refresh failed", tint.Err(err))
	case refreshed:
		logger.Info("agents refreshed", "listed", saved.Listed, "new", saved.New, "deleted", saved.Deleted,
			"never_listed", saved.Unseen)
	}
}
