package store

import (
	"context"
	"fmt"
)

const enqueueNewSQL = `
INSERT INTO sync_queue (call_id)
SELECT DISTINCT id FROM unnest($1::text[]) AS t(id)
WHERE  NOT EXISTS (SELECT FROM erased_calls e WHERE e.call_id = t.id)
ON CONFLICT (call_id) DO NOTHING`

// EnqueueNew queues the calls the queue does not know yet, pending and due
// now, and returns how many it added. A call already queued, in any state,
// is left as it is: polling and backfill see the same call again and again
// while its status is not final, and must not cut short the worker's own
// schedule of re-fetches. Erased calls are not queued. Ids are not
// validated here.
func (db *DB) EnqueueNew(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := db.pool.Exec(ctx, enqueueNewSQL, ids)
	if err != nil {
		return 0, fmt.Errorf("enqueue %d new calls: %w", len(ids), err)
	}
	return int(tag.RowsAffected()), nil
}
