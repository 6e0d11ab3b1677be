package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Table is the result of a read-only query, every value as text.
type Table struct {
	Columns []string
	Rows    [][]string
}

// Report is a named query for people to read: the demo prints them and the
// README shows them as examples for dashboards.
type Report struct {
	Title string
	SQL   string
}

// Reports are example BI queries over the warehouse tables.
var Reports = []Report{
	{
		Title: "Calls per day and agent: volume, answered share, average duration",
		SQL: `SELECT date_trunc('day', started_at)::date AS day,
       model_id,
       count(*) AS calls,
       round(avg((status = 'completed')::int) * 100, 1) AS completed_pct,
       round(avg(duration_seconds), 1) AS avg_duration_s
FROM   calls
WHERE  started_at >= now() - interval '30 days'
GROUP  BY 1, 2
ORDER  BY 1 DESC, 2
LIMIT  10`,
	},
	{
		Title: "Daily call stats by agent name (the daily_call_stats view), latest days first",
		SQL: `SELECT day, agent_name, calls, answered, completed, no_answer, voicemail, answer_rate,
       avg_duration_seconds, median_duration_seconds, p90_duration_seconds, total_talk_minutes
FROM   daily_call_stats
ORDER  BY day DESC, agent_name
LIMIT  8`,
	},
	{
		Title: "Calls per agent over 30 days: answered by a person, voicemail, utterances",
		SQL: `SELECT agent_name, count(*) AS calls,
       count(*) FILTER (WHERE answered) AS answered,
       count(*) FILTER (WHERE voicemail) AS voicemail,
       round(avg(human_utterances), 1) AS avg_human_utterances,
       sum(utterances) AS utterances
FROM   call_facts
WHERE  started_date_utc >= current_date - 30
GROUP  BY 1
ORDER  BY 2 DESC`,
	},
	{
		Title: "Transfers that failed in the last 7 days, per agent (daily_action_outcomes)",
		SQL: `SELECT agent_name, action, status, sum(actions) AS actions, sum(failed) AS failed
FROM   daily_action_outcomes
WHERE  day >= current_date - 7 AND action ILIKE '%transfer%'
GROUP  BY 1, 2, 3
ORDER  BY 1, 2, 3`,
	},
	{
		Title: "Call-quality judgements per agent over 30 days (daily_judgement_results)",
		SQL: `SELECT agent_name, criterion, sum(calls) AS calls, sum(true_count) AS true,
       sum(false_count) AS false, sum(partial_count) AS partial,
       round(sum(true_count)::numeric / nullif(sum(true_count + false_count + partial_count), 0), 3) AS pass_rate
FROM   daily_judgement_results
WHERE  day >= current_date - 30 AND criterion IN ('goal', 'answered_by_human', 'objections')
GROUP  BY 1, 2
ORDER  BY 1, 2`,
	},
	{
		Title: "Calls in which someone asked to cancel (transcript_search)",
		SQL: `SELECT f.agent_name, s.call_id, s.speaker, left(s.text, 60) AS text
FROM   transcript_search s
JOIN   call_facts f USING (call_id)
WHERE  s.document @@ websearch_to_tsquery('simple', 'cancel')
ORDER  BY f.started_at DESC
LIMIT  3`,
	},
	{
		Title: "Top end-call reasons",
		SQL: `SELECT coalesce(end_call_reason, '(none)') AS end_call_reason, count(*) AS calls
FROM   call_facts
GROUP  BY 1
ORDER  BY 2 DESC
LIMIT  5`,
	},
}

// TableCounts returns the number of rows of each warehouse table.
func (db *DB) TableCounts(ctx context.Context) (map[string]int64, error) {
	const sql = `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM transcript_lines),
	                    (SELECT count(*) FROM collected_variables), (SELECT count(*) FROM call_telephony),
	                    (SELECT count(*) FROM sync_queue), (SELECT count(*) FROM call_actions),
	                    (SELECT count(*) FROM call_judgements), (SELECT count(*) FROM agents)`
	var c, t, v, p, q, a, j, g int64
	if err := db.pool.QueryRow(ctx, sql).Scan(&c, &t, &v, &p, &q, &a, &j, &g); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	return map[string]int64{"calls": c, "transcript_lines": t, "collected_variables": v, "call_telephony": p,
		"sync_queue": q, "call_actions": a, "call_judgements": j, "agents": g}, nil
}

// Query runs a read-only query (in a READ ONLY transaction, so it cannot
// change data) and returns its result as text; NULL is shown as "NULL".
func (db *DB) Query(ctx context.Context, sql string, args ...any) (Table, error) {
	var t Table
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Numerics in text format keep their scale: pgx's binary decoding turns 0.0000 into 0.
		formats := pgx.QueryResultFormatsByOID{pgtype.NumericOID: pgx.TextFormatCode}
		rows, err := tx.Query(ctx, sql, append([]any{formats}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for _, f := range rows.FieldDescriptions() {
			t.Columns = append(t.Columns, f.Name)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = cell(v)
			}
			t.Rows = append(t.Rows, cells)
		}
		return rows.Err()
	})
	if err != nil {
		return t, fmt.Errorf("query: %w", err)
	}
	return t, nil
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if x.Equal(x.Truncate(24*time.Hour)) && x.Location() == time.UTC {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format("2006-01-02 15:04:05Z")
	case []byte:
		return string(x)
	case driver.Valuer: // pgtype.Numeric and friends
		inner, err := x.Value()
		if err != nil {
			return fmt.Sprint(v)
		}
		return cell(inner)
	}
	return fmt.Sprint(v)
}
