// Package storebench holds what the benchmarks do to the database besides
// syncing: empty the warehouse between runs and read PostgreSQL's count of
// rate limit bucket writes. Nothing else should use it. It holds SQL, so it
// lives in the store tree; it reaches the database through store.DB.Pool.
package storebench

import (
	"context"
	"fmt"

	"github.com/callsync/callsync/store"
)

const emptyWarehouseSQL = `TRUNCATE calls, transcript_lines, collected_variables, call_telephony, call_actions,
    call_judgements, sync_queue, rollup_dirty, daily_call_stats_rollup, daily_action_outcomes_rollup,
    daily_judgement_results_rollup`

// EmptyWarehouse deletes every call and queue row, and the rollups, at once. Benchmarks use
// it to sync the same calls into an empty warehouse again; nothing else
// should. It returns the database's error.
func EmptyWarehouse(ctx context.Context, db *store.DB) error {
	if _, err := db.Pool().Exec(ctx, emptyWarehouseSQL); err != nil {
		return fmt.Errorf("empty the warehouse: %w", err)
	}
	return nil
}

// limiterWritesSQL counts the rows of api_limits inserted and updated since
// the statistics were reset: one per round trip of a limiter.
const limiterWritesSQL = `
SELECT COALESCE(sum(n_tup_ins + n_tup_upd), 0)::bigint FROM pg_stat_user_tables WHERE relname = 'api_limits'`

// LimiterWrites returns how many times the shared rate limit buckets were
// written (each write a commit) according to PostgreSQL's statistics, which
// a server process reports when it ends a transaction, at most once a
// second, and when it exits. For measuring: compare two readings.
func LimiterWrites(ctx context.Context, db *store.DB) (int64, error) {
	var n int64
	if err := db.Pool().QueryRow(ctx, limiterWritesSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rate limit bucket writes: %w", err)
	}
	return n, nil
}

const callStatusesSQL = `SELECT call_id, COALESCE(status, '') FROM calls WHERE call_id = ANY($1)`

// CallStatuses returns the stored status of each of these calls that the
// warehouse holds ("" when it has none), for a bench that watches calls
// land. It returns the database's error.
func CallStatuses(ctx context.Context, db *store.DB, ids []string) (map[string]string, error) {
	rows, err := db.Pool().Query(ctx, callStatusesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("read call statuses: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string, len(ids))
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, fmt.Errorf("read call statuses: %w", err)
		}
		out[id] = status
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read call statuses: %w", err)
	}
	return out, nil
}

const queueDepthSQL = `SELECT count(*) FROM sync_queue WHERE state IN ('pending', 'running')`

// QueueDepth returns how many queue rows wait for a fetch or are being
// fetched. It returns the database's error.
func QueueDepth(ctx context.Context, db *store.DB) (int, error) {
	var n int
	if err := db.Pool().QueryRow(ctx, queueDepthSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("read queue depth: %w", err)
	}
	return n, nil
}
