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

// Outcome is what became of one claimed call, applied to its queue row
// together with the write of the call.
type Outcome struct {
	CallID string
	// Call is written when non-nil.
	Call *Call
	// Unchanged, when set instead of Call, is the hash of the payload just
	// fetched, the one the stored call had when it was claimed: only the
	// call's synced_at is touched. If the stored call has changed since, or
	// is gone, the row goes back to pending, due now, without counting an
	// attempt or a poll, so that the call is fetched and written in full.
	Unchanged []byte
	// State is the row's new state: StateDone, StatePending or StateFailed
	// (see State for the transitions).
	State State
	// Delay puts a pending row's next attempt at now() + Delay.
	Delay time.Duration
	// Attempt counts the outcome as a failed attempt of the call.
	Attempt bool
	// Poll counts the outcome as a re-fetch of a call whose status is not final.
	Poll bool
	// Error is the new last_error; empty clears it.
	Error string
	// BadBody is kept in last_bad_body (at most 64 KiB of it); nil clears it.
	BadBody []byte
}

// CompleteResult says what Complete did besides settling rows.
type CompleteResult struct {
	// Lost lists calls whose lease was lost: neither settled nor written.
	Lost []string
	// Unchanged counts calls whose payload was the same as the stored one:
	// only their synced_at was touched.
	Unchanged int
	// Stale lists calls of outcomes with Unchanged whose stored call had
	// changed (or was gone): their rows went back to pending, due now.
	Stale []string
	// Rejected maps each call that the database refused to store (a value
	// it cannot accept, such as a JSON number too large for jsonb) to the
	// database's error. Their rows were neither settled nor written and are
	// still running under the lease: complete them again with an outcome
	// without a Call (a failed attempt), or release them. The other calls
	// of the batch were written and their rows settled. Nil when none.
	Rejected map[string]error
	// Erased lists calls of outcomes that were erased (callsync forget)
	// while they were claimed: not written, and their queue rows deleted.
	Erased []string
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

const rescueExpiredSQL = `
UPDATE sync_queue
SET    state = CASE WHEN attempts + 1 >= $1 THEN 'failed' ELSE 'pending' END,
       attempts = attempts + 1, suspect = true,
       locked_until = NULL, lease_token = NULL, requeue = false,
       last_error = 'attempt ' || (attempts + 1) || ' of ' || $1 ||
                    ': the worker holding the lease stopped before finishing (crash, kill or lost database)',
       next_attempt_at = now(), updated_at = now()
WHERE  state = 'running' AND locked_until < now()`

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

// Claim takes up to limit due pending rows, oldest due first, and holds them
// as running for the lease duration, with what the warehouse holds of
// their calls. A due suspect row (see RescueExpired) is claimed alone,
// before any other. Rows locked by another worker are skipped, so concurrent
// workers never claim the same row. An empty lease means nothing is due.
func (db *DB) Claim(ctx context.Context, limit int, lease time.Duration) (Lease, error) {
	token := rand.Int64()
	rows, err := db.pool.Query(ctx, claimSQL, limit, lease.Milliseconds(), token)
	if err != nil {
		return Lease{}, fmt.Errorf("claim queue rows: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Claimed, error) {
		var c Claimed
		var stored Stored
		var isStored bool
		err := r.Scan(&c.CallID, &c.Attempts, &c.Polls, &c.EnqueuedAt, &c.Suspect,
			&isStored, &stored.PayloadHash, &stored.Status, &stored.StartedAt)
		if isStored {
			c.Stored = &stored
		}
		return c, err
	})
	if err != nil {
		return Lease{}, fmt.Errorf("claim queue rows: %w", err)
	}
	return Lease{Token: token, Rows: claimed}, nil
}

const completeSQL = `
UPDATE sync_queue q
SET    state           = CASE WHEN q.requeue THEN 'pending' ELSE o.state END,
       attempts        = q.attempts + o.attempt::int,
       polls           = q.polls + o.poll::int,
       next_attempt_at = CASE WHEN q.requeue THEN now() ELSE now() + o.delay_ms * interval '1 millisecond' END,
       locked_until    = NULL,
       lease_token     = NULL,
       requeue         = false,
       suspect         = false,
       last_error      = NULLIF(o.error, ''),
       last_bad_body   = o.bad_body,
       updated_at      = now()
FROM   unnest($2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::boolean[], $7::text[], $8::bytea[])
           AS o(call_id, state, delay_ms, attempt, poll, error, bad_body)
WHERE  q.call_id = o.call_id AND q.state = 'running' AND q.lease_token = $1
RETURNING q.call_id`

// Complete applies outcomes of calls claimed under lease token, and writes
// their calls, in one transaction (see Outcome for what each field does).
// Rows whose lease was lost (expired and claimed again, or rescued) are
// left alone and their calls not written: their ids are returned in Lost.
// A call enqueued again while running goes back to pending, due now,
// whatever its outcome. When the database refuses a value of some calls,
// the others are still written and settled, and the calls at fault are
// returned in Rejected, their rows left running. It returns an error, and
// changes nothing, when the database fails otherwise.
func (db *DB) Complete(ctx context.Context, token int64, outcomes []Outcome) (CompleteResult, error) {
	var res CompleteResult
	if len(outcomes) == 0 {
		return res, nil
	}
	isolate := false // the write failed on a value of some call
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		res = CompleteResult{}
		live, err := dropErased(ctx, tx, token, outcomes, &res)
		if err != nil {
			return err
		}
		held, err := settle(ctx, tx, token, live)
		if err != nil {
			return err
		}
		var calls []*Call
		var known []Outcome
		calls, known, res.Lost = sortOutcomes(live, held)
		if res.Unchanged, res.Stale, err = touchUnchanged(ctx, tx, known); err != nil {
			return err
		}
		w, err := writeCalls(ctx, tx, calls)
		if isolate = isDataError(err); err != nil {
			return err
		}
		res.Unchanged += w.Unchanged
		return requeueStale(ctx, tx, known, res.Stale)
	})
	if isolate {
		res, err = db.completeRejecting(ctx, token, outcomes)
	}
	if err != nil {
		return CompleteResult{}, fmt.Errorf("complete %d queue rows: %w", len(outcomes), err)
	}
	return res, nil
}

const dropErasedSQL = `
WITH e AS (SELECT call_id FROM erased_calls WHERE call_id = ANY($2::text[])),
     d AS (DELETE FROM sync_queue q USING e
           WHERE q.call_id = e.call_id AND q.state = 'running' AND q.lease_token = $1)
SELECT call_id FROM e`

// dropErased takes the privacy lock shared, finds the outcomes whose calls
// were erased while they were claimed, deletes their queue rows if still
// held under token (callsync forget deletes them too), records them in
// res.Erased and returns the other outcomes.
func dropErased(ctx context.Context, tx pgx.Tx, token int64, outcomes []Outcome, res *CompleteResult) ([]Outcome, error) {
	if err := lockWrites(ctx, tx); err != nil {
		return nil, err
	}
	ids := make([]string, len(outcomes))
	for i, o := range outcomes {
		ids[i] = o.CallID
	}
	rows, err := tx.Query(ctx, dropErasedSQL, token, ids)
	if err != nil {
		return nil, fmt.Errorf("drop erased calls: %w", err)
	}
	erased, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("drop erased calls: %w", err)
	}
	if len(erased) == 0 {
		return outcomes, nil
	}
	res.Erased = erased
	gone := make(map[string]bool, len(erased))
	for _, id := range erased {
		gone[id] = true
	}
	live := make([]Outcome, 0, len(outcomes)-len(erased))
	for _, o := range outcomes {
		if !gone[o.CallID] {
			live = append(live, o)
		}
	}
	return live, nil
}

// settle applies outcomes to the rows still held under token and returns
// the ids of those rows.
func settle(ctx context.Context, tx pgx.Tx, token int64, outcomes []Outcome) (map[string]bool, error) {
	n := len(outcomes)
	ids, states, delays := make([]string, n), make([]string, n), make([]int64, n)
	attempts, polls, errs, bodies := make([]bool, n), make([]bool, n), make([]string, n), make([][]byte, n)
	for i, o := range outcomes {
		ids[i], states[i], delays[i] = o.CallID, string(o.State), o.Delay.Milliseconds()
		attempts[i], polls[i], errs[i] = o.Attempt, o.Poll, o.Error
		if len(o.BadBody) > maxBadBody {
			bodies[i] = o.BadBody[:maxBadBody]
		} else {
			bodies[i] = o.BadBody
		}
	}
	rows, err := tx.Query(ctx, completeSQL, token, ids, states, delays, attempts, polls, errs, bodies)
	if err != nil {
		return nil, err
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	ok := make(map[string]bool, len(held))
	for _, id := range held {
		ok[id] = true
	}
	return ok, nil
}

// sortOutcomes sorts outcomes by what their write does: the calls to
// write and the unchanged payloads to touch (Outcome.Unchanged), of the
// rows still held, and the ids of the rows no longer held.
func sortOutcomes(outcomes []Outcome, held map[string]bool) (calls []*Call, known []Outcome, lost []string) {
	calls = make([]*Call, 0, len(outcomes))
	for _, o := range outcomes {
		switch {
		case !held[o.CallID]:
			lost = append(lost, o.CallID)
		case o.Call != nil:
			calls = append(calls, o.Call)
		case o.Unchanged != nil:
			known = append(known, o)
		}
	}
	return calls, known, lost
}

// maxBadBody bounds the undecodable body kept on a queue row.
const maxBadBody = 64 << 10

const releaseSQL = `
UPDATE sync_queue
SET    state = 'pending', locked_until = NULL, lease_token = NULL, requeue = false,
       next_attempt_at = now(), updated_at = now()
WHERE  call_id = ANY($2::text[]) AND state = 'running' AND lease_token = $1`

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
