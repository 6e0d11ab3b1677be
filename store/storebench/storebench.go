// Package storebench holds what the benchmarks do to the database besides
// syncing: empty the warehouse between runs, read PostgreSQL's count of
// rate limit bucket writes, fill a warehouse with clones of stored calls,
// and write calls the naive way, statement by statement, as the baseline
// of the batched writer. Nothing else should use it. It holds SQL, so it
// lives in the store tree; it reaches the database through store.DB.Pool.
package storebench

import (
	"context"
	"fmt"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/internal/treeonly"
)

const emptyWarehouseSQL = `TRUNCATE calls, transcript_lines, collected_variables, call_telephony, call_actions,
    call_judgements, sync_queue, rollup_dirty, daily_call_stats_rollup, daily_action_outcomes_rollup,
    daily_judgement_results_rollup`

// EmptyWarehouse deletes every call and queue row, and the rollups, at once. Benchmarks use
// it to sync the same calls into an empty warehouse again; nothing else
// should. It returns the database's error.
func EmptyWarehouse(ctx context.Context, db *store.DB) error {
	if _, err := db.Pool(treeonly.Key{}).Exec(ctx, emptyWarehouseSQL); err != nil {
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
	if err := db.Pool(treeonly.Key{}).QueryRow(ctx, limiterWritesSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rate limit bucket writes: %w", err)
	}
	return n, nil
}

// SaveCallSlow writes one call the naive way: a transaction of its own, a
// statement per row, with the rules of store.DB.SaveCalls. Benchmarks
// measure the batched writer against it, and the store's tests hold the two
// writers to the same rules. It returns the database's error, with the call
// id.
func SaveCallSlow(ctx context.Context, db *store.DB, c store.Call) error {
	return db.SaveCallSlow(ctx, treeonly.Key{}, c)
}
