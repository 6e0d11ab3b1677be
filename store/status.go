package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueStatus summarizes the queue for operators.
type QueueStatus struct {
	// Counts holds the number of rows per state; states with no rows are absent.
	Counts map[State]int
	// Due is the number of pending rows whose next attempt is due.
	Due int
	// OldestDue is when the longest-waiting due row became due; zero when none is.
	OldestDue time.Time
	// Failures groups failed rows by last_error, most frequent first.
	Failures []FailureGroup
	// Pending says why pending rows are pending.
	Pending PendingReasons
}

// PendingReasons splits the pending rows by why they wait.
type PendingReasons struct {
	New         int // never fetched yet
	Polling     int // stored with a status that is not final: fetched again later
	Retrying    int // the last attempt failed (last_error); retried after a backoff
	RateLimited int // held back by a 429 or a release, not counted as an attempt
	// LastError is the newest last_error of a pending row, with its call
	// and when it was set; empty when no pending row has one.
	LastError     string
	LastErrorCall string
	LastErrorAt   time.Time
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

const pendingReasonsSQL = `
SELECT count(*) FILTER (WHERE last_error IS NULL AND polls = 0),
       count(*) FILTER (WHERE last_error IS NULL AND polls > 0),
       count(*) FILTER (WHERE last_error IS NOT NULL AND attempts > 0),
       count(*) FILTER (WHERE last_error IS NOT NULL AND attempts = 0)
FROM   sync_queue WHERE state = 'pending'`

const lastPendingErrorSQL = `
SELECT last_error, call_id, updated_at FROM sync_queue
WHERE  state = 'pending' AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1`

// Status reads queue counts, the oldest due row and up to maxFailureGroups
// groups of failures.
func (db *DB) Status(ctx context.Context, maxFailureGroups int) (QueueStatus, error) {
	st := QueueStatus{Counts: map[State]int{}}
	rows, err := db.pool.Query(ctx, stateCountsSQL)
	if err != nil {
		return st, fmt.Errorf("count queue rows: %w", err)
	}
	var state State
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
	p := &st.Pending
	if err := db.pool.QueryRow(ctx, pendingReasonsSQL).Scan(&p.New, &p.Polling, &p.Retrying, &p.RateLimited); err != nil {
		return st, fmt.Errorf("split pending rows: %w", err)
	}
	err = db.pool.QueryRow(ctx, lastPendingErrorSQL).Scan(&p.LastError, &p.LastErrorCall, &p.LastErrorAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("read the latest error of a pending row: %w", err)
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
