package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// privacyLock is the advisory lock that orders erasure, pruning and
// sharing of variables against the writes of calls. Every transaction that
// writes calls takes it shared, first; Forget, Prune and the variable
// commands take it exclusive. So a write either ends before an erasure
// starts, and the erasure deletes what it wrote, or starts after the
// erasure committed, and sees its tombstones (each statement of a READ
// COMMITTED transaction sees what committed before it began). The same
// goes for pruned calls and shared variables.
const privacyLock = 0x63616c6c73796e63 // "callsync"

const lockWritesSQL = `SELECT pg_advisory_xact_lock_shared($1)`

const lockPrivacySQL = `SELECT pg_advisory_xact_lock($1)`

// lockWrites takes the privacy lock shared, for a transaction that writes
// calls. It must come before the transaction locks any row.
func lockWrites(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, lockWritesSQL, int64(privacyLock)); err != nil {
		return fmt.Errorf("lock against erasure: %w", err)
	}
	return nil
}

// lockPrivacy takes the privacy lock exclusive: writes of calls wait.
func lockPrivacy(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, lockPrivacySQL, int64(privacyLock)); err != nil {
		return fmt.Errorf("lock out writes: %w", err)
	}
	return nil
}

const guardSQL = `
SELECT (SELECT coalesce(array_agg(call_id), '{}') FROM erased_calls WHERE call_id = ANY($1::text[])),
       (SELECT coalesce(array_agg(name), '{}') FROM shared_variables)`

// guard is what a write must honour besides the stored calls: the erased
// calls among those written, and the variables whose values are shared.
type guard struct {
	erased map[string]bool
	shared map[string]bool
}

// loadGuard reads the guard of calls, in one round trip.
func loadGuard(ctx context.Context, tx pgx.Tx, calls []*Call) (guard, error) {
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID
	}
	var erased, shared []string
	if err := tx.QueryRow(ctx, guardSQL, ids).Scan(&erased, &shared); err != nil {
		return guard{}, fmt.Errorf("find erased calls: %w", err)
	}
	g := guard{erased: make(map[string]bool, len(erased)), shared: make(map[string]bool, len(shared))}
	for _, id := range erased {
		g.erased[id] = true
	}
	for _, n := range shared {
		g.shared[n] = true
	}
	return g, nil
}

// withoutErased returns calls without the erased ones, and the ids of
// those, each once.
func (g guard) withoutErased(calls []*Call) (keep []*Call, erased []string) {
	if len(g.erased) == 0 {
		return calls, nil
	}
	keep = make([]*Call, 0, len(calls))
	seen := map[string]bool{}
	for _, c := range calls {
		if !g.erased[c.ID] {
			keep = append(keep, c)
		} else if !seen[c.ID] {
			seen[c.ID] = true
			erased = append(erased, c.ID)
		}
	}
	return keep, erased
}
