// Package treeonly holds the key to what package store keeps out of its
// API: the connection pool, the statement-by-statement writer and the bulk
// clone of calls. The store tree's own packages (report, storebench,
// storetest) pass a Key to reach them. Go lets only code under store/
// import an internal package, so no other code can name a Key: the methods
// that take one cannot be called from the worker or the commands by
// accident. (Go's type inference can still conjure a zero Key; this is a
// fence, not a lock.)
package treeonly

// Key unlocks a method of store.DB that is meant for the store tree only.
// Its zero value is the key: treeonly.Key{}.
type Key struct {
	_ struct{} // not exported: no struct type of another package is identical to Key
}
