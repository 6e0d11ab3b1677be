package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// Claimed is a queue row that a worker holds under a lease.
type Claimed struct {
	CallID     string
	Attempts   int
	Polls      int
	EnqueuedAt time.Time
	// Suspect is set when the row's previous lease expired with its worker
	// gone: such a row is claimed alone.
	Suspect bool
	// Stored is what the warehouse held of the call when it was claimed;
	// nil when the call is not stored.
	Stored *Stored
	// ModelID and StartedAt are the row's hints (see Hint), set by
	// ClaimListed only.
	ModelID   string
	StartedAt time.Time
}

// Stored is what a claim reads of a call already in the warehouse.
type Stored struct {
	// PayloadHash is the hash of the payload the call was last written
	// from; nil when it was written without one.
	PayloadHash []byte
	Status      *string
	StartedAt   *time.Time
}

// Lease identifies one claim: only its holder can complete or release the rows.
type Lease struct {
	Token int64
	Rows  []Claimed
}

// EnqueueResult counts what Enqueue did.
type EnqueueResult struct {
	Added    int // ids new to the queue
	Requeued int // ids already known, made pending (or flagged, when running)
	// Erased lists the ids not queued because their calls were erased
	// (callsync forget).
	Erased []string
}

const erasedAmongSQL = `SELECT call_id FROM erased_calls WHERE call_id = ANY($1::text[])`

const enqueueSQL = `
INSERT INTO sync_queue AS q (call_id)
SELECT DISTINCT id FROM unnest($1::text[]) AS t(id)
WHERE  NOT EXISTS (SELECT FROM erased_calls e WHERE e.call_id = t.id)
ORDER  BY id -- rows locked in call_id order, as Complete locks them: no deadlock between the two
ON CONFLICT (call_id) DO UPDATE SET
    state           = CASE WHEN q.state = 'running' THEN 'running' ELSE 'pending' END,
    requeue         = q.state = 'running',
    attempts        = CASE WHEN q.state IN ('done', 'failed') THEN 0 ELSE q.attempts END,
    polls           = CASE WHEN q.state IN ('done', 'failed') THEN 0 ELSE q.polls END,
    next_attempt_at = CASE WHEN q.state = 'running' THEN q.next_attempt_at ELSE now() END,
    enqueued_at     = now(),
    updated_at      = now()
RETURNING (xmax = 0) AS added`

// Enqueue makes the calls pending, due now. A call already queued is made
// pending again whatever its state (its attempts reset when it was done or
// failed); a running one keeps running and goes back to pending when it
// finishes. Duplicate ids count once. Erased calls are not queued: they
// are returned in Erased. Ids are not validated here.
func (db *DB) Enqueue(ctx context.Context, ids []string) (EnqueueResult, error) {
	var res EnqueueResult
	if len(ids) == 0 {
		return res, nil
	}
	erased, err := erasedAmong(ctx, db.pool, ids)
	if err != nil {
		return res, err
	}
	res.Erased = erased
	rows, err := db.pool.Query(ctx, enqueueSQL, ids)
	if err != nil {
		return res, fmt.Errorf("enqueue %d calls: %w", len(ids), err)
	}
	added, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return res, fmt.Errorf("enqueue %d calls: %w", len(ids), err)
	}
	for _, a := range added {
		if a {
			res.Added++
		} else {
			res.Requeued++
		}
	}
	return res, nil
}

// erasedAmong returns the erased calls among ids. A call erased after it
// returns is not queued either: the enqueue statements check again, and a
// queue row that slips through an erasure is dropped when its call would be
// written.
func erasedAmong(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ids []string) ([]string, error) {
	rows, err := q.Query(ctx, erasedAmongSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("find erased calls: %w", err)
	}
	erased, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find erased calls: %w", err)
	}
	return erased, nil
}

// rescueExpiredSQL and releaseSQL lock their rows in call_id order first,
// as Enqueue and Complete do, so that none of them deadlocks with another.
const rescueExpiredSQL = `
WITH expired AS (
    SELECT call_id FROM sync_queue
    WHERE  state = 'running' AND locked_until < now()
    ORDER  BY call_id
    FOR    UPDATE)
UPDATE sync_queue
SET    state = CASE WHEN attempts + 1 >= $1 THEN 'failed' ELSE 'pending' END,
       attempts = attempts + 1, suspect = true,
       locked_until = NULL, lease_token = NULL, requeue = false,
       last_error = 'attempt ' || (attempts + 1) || ' of ' || $1 ||
                    ': the worker holding the lease stopped before finishing (crash, kill or lost database)',
       next_attempt_at = now(), updated_at = now()
WHERE  call_id IN (SELECT call_id FROM expired) AND state = 'running' AND locked_until < now()`

// RescueExpired takes back running rows whose lease has expired and returns
// how many there were. Their worker died or lost the database while it
// held them, and may have died of one of them: each counts the lost
// attempt and becomes suspect (claimed alone from then on), pending and
// due now, or failed once it reaches maxAttempts. So a call that kills
// every worker that fetches it ends failed, and cannot hold back the rows
// claimed with it.
func (db *DB) RescueExpired(ctx context.Context, maxAttempts int) (int, error) {
	tag, err := db.pool.Exec(ctx, rescueExpiredSQL, maxAttempts)
	if err != nil {
		return 0, fmt.Errorf("rescue expired leases: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

const claimSQL = `
WITH suspect AS (
       SELECT call_id FROM sync_queue
       WHERE  state = 'pending' AND suspect AND next_attempt_at <= now()
       ORDER  BY next_attempt_at
       LIMIT  1
       FOR UPDATE SKIP LOCKED),
     other AS (
       SELECT call_id FROM sync_queue
       WHERE  state = 'pending' AND next_attempt_at <= now() AND NOT suspect
         AND  (fetch_by = 'get' OR next_attempt_at <= now() - $4 * interval '1 millisecond')
         AND  NOT EXISTS (SELECT FROM suspect)
       ORDER  BY next_attempt_at
       LIMIT  $1
       FOR UPDATE SKIP LOCKED),
     due AS (SELECT call_id FROM suspect UNION ALL SELECT call_id FROM other)
UPDATE sync_queue q
SET    state = 'running', locked_until = now() + $2 * interval '1 millisecond',
       lease_token = $3, requeue = false, updated_at = now()
FROM   due LEFT JOIN calls c ON c.call_id = due.call_id
WHERE  q.call_id = due.call_id
RETURNING q.call_id, q.attempts, q.polls, q.enqueued_at, q.suspect,
          c.call_id IS NOT NULL, c.payload_hash, c.status, c.started_at`

// claimPlanSQL pins the plan of the claim in its transaction: the due
// rows read in order from the partial index, up to the batch, and each
// claimed row's queue row and stored call by primary key. The statistics
// of sync_queue are taken by autovacuum at most once a minute, while a pass
// moves thousands of rows a second through the states; planned from them,
// a claim read every due row in a bitmap scan and sorted them all, for each
// batch, which made a pass quadratic in the length of the queue. No other plan reads a number of
// rows bounded by the batch, so no other is allowed.
const claimPlanSQL = `
SELECT set_config('enable_indexscan', 'on', true), set_config('enable_bitmapscan', 'off', true),
       set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true),
       set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`

// Claim takes up to limit due pending rows, oldest due first, and holds them
// as running for the lease duration, with what the warehouse holds of
// their calls. Rows a list read should serve (fetch_by list) are left to
// the planner for ListGrace after they became due. A due suspect row (see RescueExpired) is claimed alone,
// before any other. Rows locked by another worker are skipped, so concurrent
// workers never claim the same row. An empty lease means nothing is due.
func (db *DB) Claim(ctx context.Context, limit int, lease time.Duration) (Lease, error) {
	token := rand.Int64()
	var claimed []Claimed
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, claimPlanSQL); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, claimSQL, limit, lease.Milliseconds(), token, ListGrace.Milliseconds())
		if err != nil {
			return err
		}
		claimed, err = pgx.CollectRows(rows, scanClaimed)
		return err
	})
	if err != nil {
		return Lease{}, fmt.Errorf("claim queue rows: %w", err)
	}
	return Lease{Token: token, Rows: claimed}, nil
}

const releaseSQL = `
WITH held AS (
    SELECT call_id FROM sync_queue
    WHERE  call_id = ANY($2::text[]) AND state = 'running' AND lease_token = $1
    ORDER  BY call_id
    FOR    UPDATE)
UPDATE sync_queue
SET    state = 'pending', locked_until = NULL, lease_token = NULL, requeue = false,
       next_attempt_at = now(), updated_at = now()
WHERE  call_id = ANY(ARRAY(SELECT call_id FROM held)) AND state = 'running' AND lease_token = $1`

// Release gives claimed rows back to the queue as pending, due now, without
// counting an attempt: for shutdowns and errors that are not the calls' fault.
func (db *DB) Release(ctx context.Context, token int64, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.pool.Exec(ctx, releaseSQL, token, ids); err != nil {
		return fmt.Errorf("release %d queue rows: %w", len(ids), err)
	}
	return nil
}

// scanClaimed reads one row of a claim (claimSQL, claimExtrasSQL): the queue
// row, and what the warehouse holds of the call, if anything.
func scanClaimed(r pgx.CollectableRow) (Claimed, error) {
	var c Claimed
	var stored Stored
	var isStored bool
	err := r.Scan(&c.CallID, &c.Attempts, &c.Polls, &c.EnqueuedAt, &c.Suspect,
		&isStored, &stored.PayloadHash, &stored.Status, &stored.StartedAt)
	if isStored {
		c.Stored = &stored
	}
	return c, err
}
