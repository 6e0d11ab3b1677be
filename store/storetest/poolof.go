package storetest

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/internal/treeonly"
)

// PoolOf returns db's connection pool, for tests that check or set up rows
// with SQL of their own. Only the store tree and tests reach it: production
// code goes through store.DB's methods.
func PoolOf(db *store.DB) *pgxpool.Pool {
	return db.Pool(treeonly.Key{})
}
