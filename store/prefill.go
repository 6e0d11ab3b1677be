package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// cloneTables are the tables CloneCalls copies, parents first.
var cloneTables = []string{"calls", "transcript_lines", "collected_variables", "call_telephony", "call_actions", "call_judgements"}

const tableColumnsSQL = `
SELECT attname FROM pg_attribute
WHERE  attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
ORDER  BY attnum`

// CloneCalls copies every stored call whose id starts with prefix, with its
// child rows, copies times, under the ids "clone-<k>-<id>", each copy
// starting at a random time within span before now. Benchmarks use it to
// fill a warehouse with millions of calls in minutes; nothing else should.
// Copies are written ten at a time, one transaction each, so that an
// interrupted clone keeps what it wrote. It returns the database's
// error.
func (db *DB) CloneCalls(ctx context.Context, prefix string, copies int, span time.Duration, progress func(done int)) error {
	stmts := make([]string, 0, len(cloneTables))
	for _, table := range cloneTables {
		rows, err := db.pool.Query(ctx, tableColumnsSQL, table)
		if err != nil {
			return fmt.Errorf("clone calls: columns of %s: %w", table, err)
		}
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("clone calls: columns of %s: %w", table, err)
		}
		sel := make([]string, len(cols))
		for i, c := range cols {
			q := pgx.Identifier{c}.Sanitize()
			switch {
			case c == "call_id":
				sel[i] = `'clone-' || g.k || '-' || t.call_id`
			case table == "calls" && c == "started_at":
				sel[i] = `now() - $3::interval * random()`
			default:
				sel[i] = "t." + q
			}
			cols[i] = q
		}
		stmts = append(stmts, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s t CROSS JOIN generate_series($1::integer, $4::integer) g(k) WHERE t.call_id = ANY ($2::text[]) AND $3::interval IS NOT NULL",
			pgx.Identifier{table}.Sanitize(), strings.Join(cols, ", "), strings.Join(sel, ", "), pgx.Identifier{table}.Sanitize()))
	}
	rows, err := db.pool.Query(ctx, `SELECT call_id FROM calls WHERE starts_with(call_id, $1)`, prefix)
	if err != nil {
		return fmt.Errorf("clone calls: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("clone calls: %w", err)
	}
	const round = 10 // copies per transaction
	for k := 1; k <= copies; k += round {
		last := min(k+round-1, copies)
		err := db.beginFunc(ctx, func(tx pgx.Tx) error {
			for _, s := range stmts {
				if _, err := tx.Exec(ctx, s, k, ids, span, last); err != nil {
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
