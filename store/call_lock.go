package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// lockCallsSQL takes a transaction-scoped advisory lock on each call of $1,
// one key per call id, in the order of the keys. Every transaction that
// writes calls or their child rows (SaveCalls, Complete, SaveCallSlow,
// SaveHookJudgements) takes them right after the privacy lock and before
// it locks any row, so that two writers of one call, whichever paths they
// come by (a backfill's list page, a worker's fetch, a webhook's
// judgements), run one after the other: the second sees the first's rows
// and replaces them, instead of inserting child rows beside them
// (duplicate keys) or locking rows in another order (deadlocks). Taken in
// one order by every writer, the locks themselves cannot deadlock. Two ids
// that share a key only wait for each other. The keys are in a space of
// their own (the two-int form, first int callLockSpace), apart from the
// single bigint keys of the privacy, rollup and migration locks.
const lockCallsSQL = `
SELECT count(pg_advisory_xact_lock(` + callLockSpace + `, k))
FROM  (SELECT DISTINCT hashtext(id) AS k FROM unnest($1::text[]) AS t(id) ORDER BY k) keys`

// callLockSpace is the first key of the calls' advisory locks: "call".
const callLockSpace = "1667329132"

// lockCalls takes the write locks of the calls ids (lockCallsSQL). The
// transaction must hold the privacy lock (lockWrites) and no row lock.
func lockCalls(ctx context.Context, tx pgx.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, lockCallsSQL, ids); err != nil {
		return fmt.Errorf("lock calls: %w", err)
	}
	return nil
}

// callIDs returns the ids of calls.
func callIDs(calls []*Call) []string {
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID
	}
	return ids
}
