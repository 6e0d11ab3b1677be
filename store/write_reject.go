package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// isDataError reports whether err is the database refusing a value: a data
// exception (SQLSTATE class 22: invalid JSON, a number out of range, bad
// encoding), an integrity violation (23: duplicate keys) or an exceeded
// limit (54: JSON nested too deep). Such an error comes from what one call
// holds, not from the connection, and writing the same call again fails
// the same way.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

const holdSQL = `
SELECT call_id FROM sync_queue
WHERE  call_id = ANY($2::text[]) AND state = 'running' AND lease_token = $1
ORDER  BY call_id
FOR UPDATE`

// completeRejecting is Complete after its batch write was refused because
// of a value of some call. In a new transaction it locks the rows still
// held, writes their calls in halves within savepoints to find the calls at
// fault, and settles every row but theirs, so that one bad call does not
// hold its whole batch back on every pass.
func (db *DB) completeRejecting(ctx context.Context, token int64, outcomes []Outcome) (CompleteResult, error) {
	var res CompleteResult
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		res = CompleteResult{}
		outcomes, err := dropErased(ctx, tx, token, outcomes, &res)
		if err != nil {
			return err
		}
		ids := make([]string, len(outcomes))
		for i, o := range outcomes {
			ids[i] = o.CallID
		}
		rows, err := tx.Query(ctx, holdSQL, token, ids)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		held := make(map[string]bool, len(locked))
		for _, id := range locked {
			held[id] = true
		}
		calls, known, _ := sortOutcomes(outcomes, held) // lost: those settle does not find
		if res.Unchanged, res.Stale, err = touchUnchanged(ctx, tx, known); err != nil {
			return err
		}
		rejected := map[string]error{}
		n, err := writeIsolating(ctx, tx, calls, rejected)
		if err != nil {
			return err
		}
		res.Unchanged += n
		keep := make([]Outcome, 0, len(outcomes))
		for _, o := range outcomes {
			if _, bad := rejected[o.CallID]; !bad {
				keep = append(keep, o)
			}
		}
		settled, err := settle(ctx, tx, token, keep)
		if err != nil {
			return err
		}
		for _, o := range keep {
			if !settled[o.CallID] {
				res.Lost = append(res.Lost, o.CallID)
			}
		}
		if len(rejected) > 0 {
			res.Rejected = rejected
		}
		return requeueStale(ctx, tx, known, res.Stale)
	})
	return res, err
}

// writeIsolating writes calls within a savepoint. When the database refuses
// a value, it rolls back to the savepoint and writes each half of calls the
// same way, down to single calls, which it records in rejected with their
// error: k bad calls among n cost about 2k·log2(n) small writes. Other
// errors are returned.
func writeIsolating(ctx context.Context, tx pgx.Tx, calls []*Call, rejected map[string]error) (unchanged int, err error) {
	if len(calls) == 0 {
		return 0, nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, err
	}
	w, err := writeCalls(ctx, sp, calls)
	if err == nil {
		return w.Unchanged, sp.Commit(ctx)
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return 0, rbErr
	}
	if !isDataError(err) {
		return 0, err
	}
	if len(calls) == 1 {
		rejected[calls[0].ID] = fmt.Errorf("store call %s: %w", calls[0].ID, err)
		return 0, nil
	}
	mid := len(calls) / 2
	a, err := writeIsolating(ctx, tx, calls[:mid], rejected)
	if err != nil {
		return 0, err
	}
	b, err := writeIsolating(ctx, tx, calls[mid:], rejected)
	if err != nil {
		return 0, err
	}
	return a + b, nil
}
