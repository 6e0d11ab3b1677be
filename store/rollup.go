package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The daily rollups (migration 00015): each public daily view reads the
// rows of its rollup table for the keys (UTC day, agent) that are not in
// rollup_dirty, and aggregates the dirty keys' calls live through its
// *_live view. Writers mark keys (rollup_mark.go); a fold recomputes them.

// rollup is a rollup table and the view whose rows it holds.
type rollup struct {
	table, live string
}

var rollups = []rollup{
	{"daily_call_stats_rollup", "daily_call_stats_live"},
	{"daily_action_outcomes_rollup", "daily_action_outcomes_live"},
	{"daily_judgement_results_rollup", "daily_judgement_results_live"},
}

// rollupLock is the advisory lock that folds and rebuilds take, so that
// two never interleave their deletes and inserts of rollup rows.
const rollupLock = 0x726f6c6c757073 // "rollups"

// A rebuild waits for a fold to end; a fold gives way to a fold or a
// rebuild already running, which leaves at most the marks of later changes
// to the next fold.
const (
	lockRollupsSQL    = `SELECT pg_advisory_xact_lock($1)`
	tryLockRollupsSQL = `SELECT pg_try_advisory_xact_lock($1)`
)

// foldChunk bounds the keys one fold transaction recomputes, so that a
// fold after a backfill of many days stays within the statement timeout
// and commits as it goes.
const foldChunk = 50

// takeDirtySQL deletes the dirty rows of up to $1 keys that this statement
// sees, and returns the keys, once each. The recomputation runs in later
// statements, with later snapshots: it sees every change whose mark was
// taken here, and a change committed after this statement keeps its mark
// for the next fold.
const takeDirtySQL = `
WITH k AS (SELECT DISTINCT day, model_id FROM rollup_dirty ORDER BY day, model_id LIMIT $1),
     d AS (DELETE FROM rollup_dirty r USING k WHERE r.day = k.day AND r.model_id IS NOT DISTINCT FROM k.model_id
           RETURNING r.day, r.model_id)
SELECT DISTINCT day, model_id FROM d`

// foldDeleteSQL deletes the rollup rows of the keys $1, $2 from table.
func foldDeleteSQL(table string) string {
	return `DELETE FROM ` + table + ` r USING unnest($1::date[], $2::text[]) AS k(day, model_id)
WHERE  r.day = k.day AND r.model_id IS NOT DISTINCT FROM k.model_id`
}

// foldInsertSQL inserts the live rows of the keys $1, $2 into r.table,
// each key aggregated on its own through the index on day and agent (as
// the public views do for dirty keys; OFFSET 0 keeps the planner from
// joining the keys with every key's aggregate instead).
func foldInsertSQL(r rollup) string {
	return `INSERT INTO ` + r.table + `
SELECT v.* FROM unnest($1::date[], $2::text[]) AS k(day, model_id)
CROSS  JOIN LATERAL (SELECT * FROM ` + r.live + ` l WHERE l.day = k.day AND l.model_id = k.model_id OFFSET 0) v
WHERE  k.model_id IS NOT NULL
UNION  ALL
SELECT v.* FROM unnest($1::date[], $2::text[]) AS k(day, model_id)
CROSS  JOIN LATERAL (SELECT * FROM ` + r.live + ` l WHERE l.day = k.day AND l.model_id IS NULL OFFSET 0) v
WHERE  k.model_id IS NULL`
}

// FoldRollups recomputes the rollup rows of the dirty keys from the base
// tables and clears their marks, foldChunk keys a transaction, and returns
// how many keys it folded. The daily views are exact before, during and
// after it; it makes them fast again. When another fold or a rebuild is
// running, it returns at once: what that one does not take is left to the
// next fold. It returns the database's error; what it folded before stays
// folded.
func (db *DB) FoldRollups(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := db.foldChunk(ctx)
		total += n
		if err != nil {
			return total, fmt.Errorf("fold rollups: %w", err)
		}
		if n < foldChunk {
			return total, nil
		}
	}
}

// foldChunk folds up to foldChunk dirty keys in one transaction and
// returns how many; 0 when another fold holds the lock.
func (db *DB) foldChunk(ctx context.Context) (int, error) {
	var n int
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		n = 0
		var locked bool
		if err := tx.QueryRow(ctx, tryLockRollupsSQL, int64(rollupLock)).Scan(&locked); err != nil {
			return fmt.Errorf("lock rollups: %w", err)
		}
		if !locked {
			return nil
		}
		if _, err := tx.Exec(ctx, noJITSQL); err != nil {
			return fmt.Errorf("switch JIT off: %w", err)
		}
		rows, err := tx.Query(ctx, takeDirtySQL, foldChunk)
		if err != nil {
			return fmt.Errorf("take dirty keys: %w", err)
		}
		var days []time.Time
		var models []*string
		var day time.Time
		var model *string
		if _, err := pgx.ForEachRow(rows, []any{&day, &model}, func() error {
			days, models = append(days, day), append(models, model)
			return nil
		}); err != nil {
			return fmt.Errorf("take dirty keys: %w", err)
		}
		if len(days) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, r := range rollups {
			b.Queue(foldDeleteSQL(r.table), days, models)
			b.Queue(foldInsertSQL(r), days, models)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("recompute %d keys: %w", len(days), err)
		}
		n = len(days)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

const clearDirtySQL = `DELETE FROM rollup_dirty`

// noJITSQL switches JIT compilation off for the rest of a transaction: the
// estimated cost of a key's recomputation makes PostgreSQL compile each
// statement, which takes longer than running it (migration 00015 switches
// it off for the database where it may).
const noJITSQL = `SELECT set_config('jit', 'off', true)`

// noStatementTimeoutSQL lifts the pool's statement timeout for the rest of
// a transaction whose statements read every call.
const noStatementTimeoutSQL = `SELECT set_config('statement_timeout', '0', true)`

// RebuildRollups recomputes every rollup row from the base tables, in one
// transaction without a statement timeout (it reads every call), whatever
// is marked dirty: after a bulk load that marked
// nothing, or to check that folds kept them right (the views do not change
// if they did). It returns the database's error, having changed nothing.
func (db *DB) RebuildRollups(ctx context.Context) error {
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockRollupsSQL, int64(rollupLock)); err != nil {
			return fmt.Errorf("lock rollups: %w", err)
		}
		if _, err := tx.Exec(ctx, noStatementTimeoutSQL); err != nil {
			return fmt.Errorf("lift the statement timeout: %w", err)
		}
		if _, err := tx.Exec(ctx, noJITSQL); err != nil {
			return fmt.Errorf("switch JIT off: %w", err)
		}
		// As in a fold: the marks go first, so that a change committed
		// after this statement keeps its mark.
		if _, err := tx.Exec(ctx, clearDirtySQL); err != nil {
			return fmt.Errorf("clear dirty keys: %w", err)
		}
		for _, r := range rollups {
			if _, err := tx.Exec(ctx, `DELETE FROM `+r.table); err != nil {
				return fmt.Errorf("empty %s: %w", r.table, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+r.table+` SELECT * FROM `+r.live); err != nil {
				return fmt.Errorf("fill %s: %w", r.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild rollups: %w", err)
	}
	return nil
}

// RollupStatus is what the rollups hold.
type RollupStatus struct {
	// Dirty counts the distinct keys marked since the last fold.
	Dirty int
	// Rows counts the rows of each rollup table.
	Rows map[string]int64
}

const rollupStatusSQL = `
SELECT (SELECT count(*) FROM (SELECT DISTINCT day, model_id FROM rollup_dirty) d),
       (SELECT count(*) FROM daily_call_stats_rollup),
       (SELECT count(*) FROM daily_action_outcomes_rollup),
       (SELECT count(*) FROM daily_judgement_results_rollup)`

// RollupStatus counts the dirty keys and the rows of each rollup table. It
// returns the database's error.
func (db *DB) RollupStatus(ctx context.Context) (RollupStatus, error) {
	var dirty int
	var stats, actions, judgements int64
	if err := db.pool.QueryRow(ctx, rollupStatusSQL).Scan(&dirty, &stats, &actions, &judgements); err != nil {
		return RollupStatus{}, fmt.Errorf("read rollup status: %w", err)
	}
	return RollupStatus{Dirty: dirty, Rows: map[string]int64{rollups[0].table: stats, rollups[1].table: actions,
		rollups[2].table: judgements}}, nil
}
