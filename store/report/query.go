package report

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/internal/treeonly"
)

// Table is the result of a read-only query, every value as text.
type Table struct {
	Columns []string
	Rows    [][]string
}

// TableCounts returns the number of rows of each warehouse table, or the
// database's error.
func TableCounts(ctx context.Context, db *store.DB) (map[string]int64, error) {
	const sql = `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM transcript_lines),
	                    (SELECT count(*) FROM collected_variables), (SELECT count(*) FROM call_telephony),
	                    (SELECT count(*) FROM sync_queue), (SELECT count(*) FROM call_actions),
	                    (SELECT count(*) FROM call_judgements), (SELECT count(*) FROM agents)`
	var c, t, v, p, q, a, j, g int64
	if err := db.Pool(treeonly.Key{}).QueryRow(ctx, sql).Scan(&c, &t, &v, &p, &q, &a, &j, &g); err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	return map[string]int64{"calls": c, "transcript_lines": t, "collected_variables": v, "call_telephony": p,
		"sync_queue": q, "call_actions": a, "call_judgements": j, "agents": g}, nil
}

// Query runs a read-only query (in a READ ONLY transaction, so it cannot
// change data) and returns its result as text; NULL is shown as "NULL". It
// returns the database's error, wrapped.
func Query(ctx context.Context, db *store.DB, sql string, args ...any) (Table, error) {
	var t Table
	err := pgx.BeginTxFunc(ctx, db.Pool(treeonly.Key{}), pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
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

// cell renders one value of a result as text.
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
