package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Run is one row of sync_runs: what one sync pass did. Claimed equals
// Synced + Requeued + Failed + Lost.
type Run struct {
	// Worker is the host name of the process that ran the pass.
	Worker string
	// Command is the command that ran the pass: once or run.
	Command    string
	StartedAt  time.Time
	FinishedAt time.Time
	Claimed    int
	// Synced counts calls stored with a final status.
	Synced int
	// Unchanged counts calls stored (final or not) whose payload had not changed.
	Unchanged int
	// Requeued counts claimed rows put back to pending.
	Requeued int
	// Failed counts calls that used up their attempts.
	Failed int
	// Lost counts rows whose lease another worker took over.
	Lost int
	// Rescued counts expired leases put back before the pass.
	Rescued        int
	APIRequests    int
	APIRateLimited int
	// Error is why the pass stopped early; empty when it drained the queue.
	Error string
}

const insertRunSQL = `
INSERT INTO sync_runs (worker, command, started_at, finished_at, claimed, synced, unchanged, requeued,
                       failed, lost, rescued, api_requests, api_rate_limited, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, ''))`

const pruneRunsSQL = `DELETE FROM sync_runs WHERE finished_at < now() - make_interval(secs => $1)`

// RecordRun stores run and deletes the runs that finished more than keep
// ago (none when keep is 0), in one transaction. It returns how many runs
// it deleted, or an error when the database refuses either statement.
func (db *DB) RecordRun(ctx context.Context, run Run, keep time.Duration) (int64, error) {
	var pruned int64
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertRunSQL, run.Worker, run.Command, run.StartedAt, run.FinishedAt,
			run.Claimed, run.Synced, run.Unchanged, run.Requeued, run.Failed, run.Lost, run.Rescued,
			run.APIRequests, run.APIRateLimited, run.Error); err != nil {
			return fmt.Errorf("insert sync run: %w", err)
		}
		if keep <= 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, pruneRunsSQL, keep.Seconds())
		if err != nil {
			return fmt.Errorf("prune sync runs: %w", err)
		}
		pruned = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record sync run: %w", err)
	}
	return pruned, nil
}

const recentRunsSQL = `
SELECT worker, command, started_at, finished_at, claimed, synced, unchanged, requeued, failed, lost,
       rescued, api_requests, api_rate_limited, coalesce(error, '')
FROM   sync_runs ORDER BY finished_at DESC, id DESC LIMIT $1`

// RecentRuns returns up to limit runs, the latest first.
func (db *DB) RecentRuns(ctx context.Context, limit int) ([]Run, error) {
	rows, err := db.pool.Query(ctx, recentRunsSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("read sync runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var x Run
		err := r.Scan(&x.Worker, &x.Command, &x.StartedAt, &x.FinishedAt, &x.Claimed, &x.Synced, &x.Unchanged,
			&x.Requeued, &x.Failed, &x.Lost, &x.Rescued, &x.APIRequests, &x.APIRateLimited, &x.Error)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read sync runs: %w", err)
	}
	return runs, nil
}
