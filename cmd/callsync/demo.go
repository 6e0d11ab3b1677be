package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/report"
	callsync "github.com/callsync/callsync/sync"
)

// demoKey is the fake API's key; it authenticates nothing real.
const demoKey = "demo-key"

func runDemo(ctx context.Context, args []string, e env) error {
	f := newFlagSet("demo", "demo [flags]\n\nRuns the whole job end to end: a throwaway PostgreSQL (with DATABASE_URL set: a new database of\nits own on that server, never the one DATABASE_URL names), a fake Synthflow API serving generated\ncalls, enqueue, one sync pass, and what landed. It drops everything it created.", e)
	var lc logConfig
	var dc dbConfig
	var n int
	lc.register(f, "warn")
	dc.register(f)
	f.IntVar(&n, "calls", 300, "how many calls the fake API serves")
	if err := f.parse(args); err != nil {
		return err
	}
	if n < 1 || n > 1_000_000 {
		return usagef("demo: --calls must be between 1 and 1000000")
	}
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return err
	}
	out := e.stdout
	fmt.Fprintln(out, "callsync demo: syncs generated calls from a fake Synthflow API into a database of its own, shows what landed, then removes it all.")

	dbURL, cleanup, err := demoDatabase(ctx, e, dc.url)
	if err != nil {
		return err
	}
	defer cleanup()
	db, err := openStore(ctx, dbConfig{url: dbURL}, logger, true)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(out, "  migrations applied")

	now := time.Now().UTC()
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 42, Calls: n, From: now.Add(-7 * 24 * time.Hour), To: now})
	fake, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: demoKey})
	if err != nil {
		return err
	}
	defer fake.Close()
	fmt.Fprintf(out, "• fake Synthflow API at %s serving %d generated calls of the last 7 days\n", fake.URL, n)
	client, err := demoSync(ctx, out, db, fake, calls, logger)
	if err != nil {
		return err
	}
	if err := demoListPages(ctx, out, db, client, logger, now); err != nil {
		return err
	}
	if err := demoRecordings(ctx, out, db, fake, logger); err != nil {
		return err
	}
	if err := demoCounts(ctx, out, db); err != nil {
		return err
	}
	if err := demoSamples(ctx, out, db); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nDone. Point a BI tool at these tables; see the README for production use.")
	return nil
}

// demoSync enqueues the fake API's calls and syncs them in one pass, as
// callsync enqueue and callsync once do; it returns the client it used.
func demoSync(ctx context.Context, out io.Writer, db *store.DB, fake *apitest.Server, calls []apitest.Call,
	logger *slog.Logger) (*api.Client, error) {
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID()
	}
	rep, err := callsync.Enqueue(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "• enqueued %d call ids\n", rep.Added+rep.Requeued)

	client, err := api.NewClient(api.Options{BaseURL: fake.URL, APIKey: demoKey})
	if err != nil {
		return nil, err
	}
	s := &callsync.Syncer{Queue: db, API: client, Logger: withComponent(logger, componentPass), Config: callsync.DefaultConfig()}
	start := time.Now()
	st, err := s.RunOnce(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: sync pass: %w", err)
	}
	took := time.Since(start)
	fmt.Fprintf(out, "• sync pass: %d claimed, %d stored as final, %d stored and queued again (status not final yet), %d failed, in %s (%.0f calls/s)\n",
		st.Claimed, st.Done, st.Polling, st.Failed+st.Retrying, took.Round(time.Millisecond), float64(st.Claimed)/took.Seconds())
	return client, nil
}

// demoCounts prints how many rows each table holds.
func demoCounts(ctx context.Context, out io.Writer, db *store.DB) error {
	counts, err := report.TableCounts(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\nRows in the warehouse:")
	for _, t := range []string{"calls", "transcript_lines", "collected_variables", "call_telephony", "call_actions",
		"call_judgements", "agents", "sync_queue"} {
		fmt.Fprintf(out, "  %-20s %8d\n", t, counts[t])
	}
	return nil
}

// demoListPages lists the agents into the agents table and reads the last
// week's list pages, which alone carry judgements and the list-only fields,
// as callsync agents and callsync backfill --all-models do; then it
// switches the transcript search index on.
func demoListPages(ctx context.Context, out io.Writer, db *store.DB, client *api.Client, logger *slog.Logger, now time.Time) error {
	var sent int
	models, saved, err := callsync.RefreshAgents(ctx, client, db, callsync.IntakeConfig{}, &sent)
	if err != nil {
		return fmt.Errorf("demo: agents: %w", err)
	}
	fmt.Fprintf(out, "• agents: %d listed from GET /v2/assistants/ into the agents table\n", saved.Listed)
	windows, err := callsync.Windows(models, now.Add(-8*24*time.Hour).Truncate(24*time.Hour), now.Add(24*time.Hour).Truncate(24*time.Hour), 24*time.Hour)
	if err != nil {
		return err
	}
	b := &callsync.Backfiller{API: client, Store: db, Logger: withComponent(logger, componentBackfill)}
	rep, err := b.Run(ctx, windows, callsync.BackfillOptions{})
	if err != nil {
		return fmt.Errorf("demo: backfill: %w", err)
	}
	fmt.Fprintf(out, "• backfill of list pages: %d calls read in %d requests (judgements, labels, lead names come only from these)\n",
		rep.Calls, rep.Requests)
	if err := db.SetTranscriptSearch(ctx, true); err != nil {
		return err
	}
	fmt.Fprintln(out, "• transcript search index on (callsync search-index on)")
	return nil
}

// demoSamples prints a few rows of each table and the example BI queries.
func demoSamples(ctx context.Context, out io.Writer, db *store.DB) error {
	samples := []report.Report{
		{Title: "A few calls", SQL: `SELECT call_id, model_id, status, started_at, duration_seconds, type_of_call
FROM calls ORDER BY started_at DESC NULLS LAST LIMIT 3`},
		{Title: "The start of one call's transcript", SQL: `SELECT line_no, speaker, text FROM transcript_lines
WHERE call_id = (SELECT call_id FROM transcript_lines GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)
ORDER BY line_no LIMIT 6`},
		{Title: "Collected variables", SQL: `SELECT call_id, agent_id, name, value::text AS value, collected FROM collected_variables
ORDER BY call_id, agent_id, name LIMIT 4`},
		{Title: "Executed actions", SQL: `SELECT call_id, kind, action_key, status, left(return_value::text, 40) AS return_value, undecoded
FROM call_actions ORDER BY (status IS NULL), call_id, position LIMIT 4`},
		{Title: "Judgements of one call", SQL: `SELECT criterion, result, value, left(feedback, 40) AS feedback FROM call_judgements
WHERE call_id = (SELECT min(call_id) FROM call_judgements WHERE criterion = 'goal' AND result = 'partial') ORDER BY criterion LIMIT 6`},
		{Title: "Agents", SQL: `SELECT model_id, name, type, phone_number, language, llm, deleted_at FROM agents ORDER BY name LIMIT 5`},
		{Title: "Telephony", SQL: `SELECT call_id, hangup, disconnect_reason, duration_ms, ringing_duration_ms, started_at
FROM call_telephony WHERE started_at IS NOT NULL ORDER BY started_at DESC LIMIT 3`},
	}
	for _, r := range append(samples, report.Reports...) {
		t, err := report.Query(ctx, db, r.SQL)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", r.Title, err)
		}
		fmt.Fprintf(out, "\n%s:\n", r.Title)
		if isReport(r) {
			for _, line := range strings.Split(r.SQL, "\n") {
				fmt.Fprintln(out, "  │ "+line)
			}
		}
		printTable(out, t, 48)
	}
	return nil
}

func isReport(r report.Report) bool {
	for _, x := range report.Reports {
		if x.Title == r.Title {
			return true
		}
	}
	return false
}

// printTable prints t as aligned columns, cutting cells to width runes.
func printTable(w io.Writer, t report.Table, width int) {
	cut := func(s string) string {
		s = strings.ReplaceAll(s, "\n", "⏎")
		if r := []rune(s); len(r) > width {
			return string(r[:width-1]) + "…"
		}
		return s
	}
	widths := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		widths[i] = len([]rune(c))
	}
	for _, row := range t.Rows {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(cut(c))))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range cells {
			c = cut(c)
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.Columns)
	for _, row := range t.Rows {
		line(row)
	}
	if len(t.Rows) == 0 {
		fmt.Fprintln(w, "  (no rows)")
	}
}
