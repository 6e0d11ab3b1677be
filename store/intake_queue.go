package store

import (
	"context"
	"fmt"
	"time"
)

const enqueueNewSQL = `
INSERT INTO sync_queue (call_id)
SELECT DISTINCT id FROM unnest($1::text[]) AS t(id)
WHERE  NOT EXISTS (SELECT FROM erased_calls e WHERE e.call_id = t.id)
ORDER  BY id -- in call_id order, as every multi-row writer of the queue
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

// Outcomes of EnqueueHook.
const (
	HookAdded   = "added"   // the call was new to the queue
	HookQueued  = "queued"  // a known call was queued again
	HookIgnored = "ignored" // the queue row changed within the cooldown: nothing done
	HookErased  = "erased"  // the call was erased (callsync forget): never queued again
)

const enqueueHookSQL = `
WITH erased AS (SELECT EXISTS (SELECT FROM erased_calls WHERE call_id = $1) AS erased),
hook AS (
    INSERT INTO sync_queue AS q (call_id)
    SELECT $1 WHERE NOT (SELECT erased FROM erased)
    ON CONFLICT (call_id) DO UPDATE SET
        state           = CASE WHEN q.state = 'running' THEN 'running' ELSE 'pending' END,
        requeue         = q.state = 'running',
        attempts        = CASE WHEN q.state = 'done' THEN 0 ELSE q.attempts END,
        polls           = CASE WHEN q.state = 'done' THEN 0 ELSE q.polls END,
        next_attempt_at = CASE WHEN q.state = 'running' THEN q.next_attempt_at ELSE least(q.next_attempt_at, now()) END,
        enqueued_at     = now(),
        updated_at      = now()
    WHERE q.updated_at <= now() - $2 * interval '1 millisecond'
    RETURNING (xmax = 0) AS added)
SELECT (SELECT erased FROM erased), (SELECT added FROM hook)`

// EnqueueHook queues a call announced by a webhook, and returns HookAdded,
// HookQueued, HookIgnored or HookErased (an erased call is never queued). Synthflow signs only the call id, so a
// captured webhook can be replayed forever: a call whose queue row changed
// within cooldown (queued, claimed, synced or failed that recently) is left
// as it is, and costs nothing. Otherwise a known call is made due now (a
// running one is fetched again when its sync ends). A done call starts
// afresh; a failed call keeps its attempts, so it is tried once more and
// fails again at its next failure: only retry-failed resets attempts. The
// id is not validated here.
func (db *DB) EnqueueHook(ctx context.Context, id string, cooldown time.Duration) (string, error) {
	var erased bool
	var added *bool
	if err := db.pool.QueryRow(ctx, enqueueHookSQL, id, cooldown.Milliseconds()).Scan(&erased, &added); err != nil {
		return "", fmt.Errorf("enqueue call %s from a webhook: %w", id, err)
	}
	return hookResult(erased, added), nil
}

// hookResult names what enqueuing a webhook's call did, from what the
// statement returned: erased, and added (NULL when the row was left alone,
// within the cooldown).
func hookResult(erased bool, added *bool) string {
	switch {
	case erased:
		return HookErased
	case added == nil:
		return HookIgnored
	case *added:
		return HookAdded
	}
	return HookQueued
}
