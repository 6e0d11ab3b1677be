package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// touchUnchanged touches the synced_at of the stored calls of outcomes
// whose hash (Outcome.Unchanged) is still the stored one, and returns how
// many it touched and the ids of the others: stored calls that changed
// since their claim, or are gone.
func touchUnchanged(ctx context.Context, tx pgx.Tx, outcomes []Outcome) (touched int, stale []string, err error) {
	if len(outcomes) == 0 {
		return 0, nil, nil
	}
	ids, hashes := make([]string, len(outcomes)), make([][]byte, len(outcomes))
	for i, o := range outcomes {
		ids[i], hashes[i] = o.CallID, o.UnchangedHash
	}
	rows, err := tx.Query(ctx, touchUnchangedSQL, ids, hashes)
	if err != nil {
		return 0, nil, fmt.Errorf("touch unchanged calls: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, nil, fmt.Errorf("touch unchanged calls: %w", err)
	}
	if len(done) == len(ids) {
		return len(done), nil, nil
	}
	ok := make(map[string]bool, len(done))
	for _, id := range done {
		ok[id] = true
	}
	for _, id := range ids {
		if !ok[id] {
			stale = append(stale, id)
		}
	}
	return len(done), stale, nil
}

// requeueStaleSQL undoes the settling of rows whose unchanged payload no
// longer matched the stored call: pending, due now, and a poll the outcome
// counted is taken back. The rows are locked by the transaction that
// settled them.
const requeueStaleSQL = `
UPDATE sync_queue q
SET    state = 'pending', next_attempt_at = now(), polls = q.polls - o.poll::int, updated_at = now()
FROM   unnest($1::text[], $2::boolean[]) AS o(call_id, poll)
WHERE  q.call_id = o.call_id`

// requeueStale makes the stale calls' rows pending again, due now, after
// their outcomes (among outcomes) were settled.
func requeueStale(ctx context.Context, tx pgx.Tx, outcomes []Outcome, stale []string) error {
	if len(stale) == 0 {
		return nil
	}
	poll := make(map[string]bool, len(outcomes))
	for _, o := range outcomes {
		poll[o.CallID] = o.Poll
	}
	polls := make([]bool, len(stale))
	for i, id := range stale {
		polls[i] = poll[id]
	}
	if _, err := tx.Exec(ctx, requeueStaleSQL, stale, polls); err != nil {
		return fmt.Errorf("requeue %d changed calls: %w", len(stale), err)
	}
	return nil
}
