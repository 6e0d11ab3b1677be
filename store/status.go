package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueStatus summarizes the queue for operators.
type QueueStatus struct {
	// Counts holds the number of rows per state; states with no rows are absent.
	Counts map[string]int
	// Due is the number of pending rows whose next attempt is due.
	Due int
	// OldestDue is when the longest-waiting due row became due; zero when none is.
	OldestDue time.Time
	// Failures groups failed rows by last_error, most frequent first.
	Failures []FailureGroup
}

// FailureGroup is a set of failed rows sharing one last_error.
type FailureGroup struct {
	Error  string
	Count  int
	Latest time.Time
	// Example is one call id of the group.
	Example string
}

const stateCountsSQL = `SELECT state, count(*) FROM sync_queue GROUP BY state`

const dueSQL = `
SELECT count(*), min(next_attempt_at)
FROM   sync_queue WHERE state = 'pending' AND next_attempt_at <= now()`

const failureGroupsSQL = `
SELECT coalesce(last_error, ''), count(*), max(updated_at), min(call_id)
FROM   sync_queue WHERE state = 'failed'
GROUP  BY 1 ORDER BY 2 DESC, 3 DESC LIMIT $1`

// Status reads queue counts, the oldest due row and up to maxFailureGroups
// groups of failures.
func (db *DB) Status(ctx context.Context, maxFailureGroups int) (QueueStatus, error) {
	st := QueueStatus{Counts: map[string]int{}}
	rows, err := db.pool.Query(ctx, stateCountsSQL)
	if err != nil {
		return st, fmt.Errorf("count queue rows: %w", err)
	}
	var state string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		st.Counts[state] = n
		return nil
	}); err != nil {
		return st, fmt.Errorf("count queue rows: %w", err)
	}
	var oldest *time.Time
	if err := db.pool.QueryRow(ctx, dueSQL).Scan(&st.Due, &oldest); err != nil {
		return st, fmt.Errorf("find due rows: %w", err)
	}
	if oldest != nil {
		st.OldestDue = *oldest
	}
	rows, err = db.pool.Query(ctx, failureGroupsSQL, maxFailureGroups)
	if err != nil {
		return st, fmt.Errorf("group failures: %w", err)
	}
	st.Failures, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailureGroup, error) {
		var g FailureGroup
		err := r.Scan(&g.Error, &g.Count, &g.Latest, &g.Example)
		return g, err
	})
	if err != nil {
		return st, fmt.Errorf("group failures: %w", err)
	}
	return st, nil
}
