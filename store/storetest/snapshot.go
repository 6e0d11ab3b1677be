package storetest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// DataTables are the tables that hold synced call data, as opposed to the
// sync queue's bookkeeping: syncing the same calls again must leave them
// unchanged. A test fails when the migrations add a table missing here.
var DataTables = []string{"calls", "transcript_lines", "collected_variables", "call_telephony", "call_actions", "call_judgements"}

// Querier is the part of *pgxpool.Pool, *pgx.Conn and pgx.Tx that Snapshot
// uses.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Snapshot returns the rows of each table, each row as its jsonb text
// without the ignored columns, sorted, so that two snapshots compare with
// cmp.Diff. Ignore columns that legitimately change, such as synced_at. It
// fails t when a table cannot be read.
func Snapshot(t testing.TB, db Querier, tables []string, ignore ...string) map[string][]string {
	t.Helper()
	if ignore == nil {
		ignore = []string{} // a NULL text[] would make every row NULL
	}
	snap := make(map[string][]string, len(tables))
	for _, table := range tables {
		rows, err := db.Query(context.Background(),
			"SELECT (to_jsonb(t) - $1::text[])::text FROM "+quote(table)+" t ORDER BY 1", ignore)
		if err != nil {
			t.Fatalf("storetest: snapshot %s: %v", table, err)
		}
		snap[table], err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("storetest: snapshot %s: %v", table, err)
		}
	}
	return snap
}
