package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ClaimSQL is the claim statement, for EXPLAIN in tests.
const ClaimSQL = claimSQL

// MigrationsCurrent reports whether every embedded migration is applied.
var MigrationsCurrent = migrationsCurrent

// SaveCallsBatched writes calls in one transaction with one pgx.Batch of
// per-call statements (a call's lines and variables as arrays), the writer
// that the COPY and merge path replaced, without the payload hash check.
// Benchmarks compare the two.
func (db *DB) SaveCallsBatched(ctx context.Context, calls []Call) error {
	b := &pgx.Batch{}
	for i := range calls {
		callStatements(&calls[i], false, func(sql string, args ...any) { b.Queue(sql, args...) })
	}
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	return nil
}

// WriteCallsInTx is writeCalls, for tests that look at the transaction
// after a write.
func WriteCallsInTx(ctx context.Context, tx pgx.Tx, calls []Call) (SaveResult, error) {
	ptrs := make([]*Call, len(calls))
	for i := range calls {
		ptrs[i] = &calls[i]
	}
	return writeCalls(ctx, tx, ptrs)
}
