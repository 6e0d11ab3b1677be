package storebench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/internal/treeonly"
)

// cloneTables are the tables CloneCalls copies, parents first.
var cloneTables = []string{"calls", "transcript_lines", "collected_variables", "call_telephony", "call_actions", "call_judgements"}

const tableColumnsSQL = `
SELECT attname FROM pg_attribute
WHERE  attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
ORDER  BY attnum`

// cloneIDsSQL maps the calls $5 to their copies $1..$2 of $3, with start
// times spread evenly over $4 before now, newest first: copy k of the i-th
// of n calls is the ((k-1)·n + i)-th of copies·n. The ids sort in the order
// they are written, which keeps index inserts at the edges.
const cloneIDsSQL = `
CREATE TEMP TABLE clone_ids ON COMMIT DROP AS
SELECT t.call_id AS src, t.model_id,
       'clone-' || lpad(g.k::text, 7, '0') || '-' || t.call_id AS dst,
       now() - $4::interval * (((g.k - 1) * t.n + t.i)::float8 / ($3::float8 * t.n)) AS started_at
FROM  (SELECT call_id, model_id, row_number() OVER (ORDER BY call_id) - 1 AS i, count(*) OVER () AS n
       FROM calls WHERE call_id = ANY($5::text[])) t
CROSS  JOIN generate_series($1::integer, $2::integer) g(k)`

const cloneSourcesSQL = `SELECT call_id FROM calls WHERE starts_with(call_id, $1)`

// cloneMarkSQL marks the copies' rollup keys, as every writer of calls does.
const cloneMarkSQL = `
INSERT INTO rollup_dirty (day, model_id)
SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date, model_id FROM clone_ids`

// cloneFastSQL skips the foreign key checks of the copies' child rows
// (their calls are copied first, in the same transaction) when the role
// may: only a superuser can set session_replication_role.
const cloneFastSQL = `
SELECT set_config('session_replication_role', 'replica', true)
WHERE  (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`

// noStatementTimeoutSQL lifts the pool's statement timeout for the rest of
// a round's transaction: a round writes a million rows a statement.
const noStatementTimeoutSQL = `SELECT set_config('statement_timeout', '0', true)`

// cloneRound is how many copies of the calls one transaction writes.
const cloneRound = 50

// CloneCalls copies every stored call whose id starts with prefix, with its
// child rows, copies times, under the ids "clone-<k>-<id>" (k zero-padded),
// the copies' start times spread evenly over span before now. Benchmarks
// use it to fill a warehouse with a million calls in minutes; nothing else
// should. Each table's rows of cloneRound copies are written by one INSERT
// … SELECT, in a transaction of their own, so that an interrupted clone
// keeps what it wrote; the copies' rollup keys are marked dirty. It returns
// the database's error.
func CloneCalls(ctx context.Context, db *store.DB, prefix string, copies int, span time.Duration, progress func(done int)) error {
	pool := db.Pool(treeonly.Key{})
	stmts, err := cloneStatements(ctx, pool)
	if err != nil {
		return fmt.Errorf("clone calls: %w", err)
	}
	stmts = append(stmts, cloneMarkSQL)
	rows, err := pool.Query(ctx, cloneSourcesSQL, prefix)
	if err != nil {
		return fmt.Errorf("clone calls: %w", err)
	}
	sources, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("clone calls: %w", err)
	}
	for k := 1; k <= copies; k += cloneRound {
		last := min(k+cloneRound-1, copies)
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, cloneFastSQL); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, noStatementTimeoutSQL); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, cloneIDsSQL, k, last, copies, span, sources); err != nil {
				return err
			}
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("clone calls, copies %d-%d: %w", k, last, err)
		}
		if progress != nil {
			progress(last)
		}
	}
	return nil
}

// cloneStatements returns the INSERT … SELECT of each of cloneTables from
// clone_ids, over every column the table has now.
func cloneStatements(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	stmts := make([]string, 0, len(cloneTables))
	for _, table := range cloneTables {
		rows, err := pool.Query(ctx, tableColumnsSQL, table)
		if err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		sel := make([]string, len(cols))
		for i, c := range cols {
			q := pgx.Identifier{c}.Sanitize()
			switch {
			case c == "call_id":
				sel[i] = "i.dst"
			case table == "calls" && c == "started_at":
				sel[i] = "i.started_at"
			default:
				sel[i] = "t." + q
			}
			cols[i] = q
		}
		name := pgx.Identifier{table}.Sanitize()
		// The calls to copy are read by their call_id, so that a round
		// costs the same however many calls the table holds already.
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s
FROM  (SELECT DISTINCT src FROM clone_ids) s
CROSS  JOIN LATERAL (SELECT * FROM %s WHERE call_id = s.src OFFSET 0) t
JOIN   clone_ids i ON i.src = s.src
ORDER  BY i.dst`, name, strings.Join(cols, ", "), strings.Join(sel, ", "), name))
	}
	return stmts, nil
}
