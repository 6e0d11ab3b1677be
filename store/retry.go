package store

import (
	"context"
	"fmt"
	"time"
)

const retryFailedSQL = `
UPDATE sync_queue
SET    state = 'pending', attempts = 0, next_attempt_at = now(), last_bad_body = NULL, updated_at = now()
WHERE  state = 'failed'
  AND  ($1 = '' OR last_error ILIKE '%' || $1 || '%')
  AND  ($2 = 0 OR updated_at >= now() - $2 * interval '1 millisecond')`

// RetryFailed makes failed rows pending again, due now, with their attempts
// reset, and returns how many it moved. errorLike, when not empty, keeps
// only rows whose last_error contains it (case-insensitive); since, when
// not zero, only rows that failed within that long. last_error is kept
// until the next attempt replaces it.
func (db *DB) RetryFailed(ctx context.Context, errorLike string, since time.Duration) (int, error) {
	tag, err := db.pool.Exec(ctx, retryFailedSQL, errorLike, since.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("retry failed calls: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
