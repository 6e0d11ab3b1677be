package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListGrace is how long a due row that a list read should serve (fetch_by
// list) is left to the planner before Claim takes it for a get: a worker
// without a planner (callsync once), or a planner that cannot keep up,
// never strands a row.
const ListGrace = 2 * time.Minute

// Hint is what a queue row knows of its call's agent and start: from a
// list page, or from a webhook body (unsigned, so only a hint). Zero
// fields are unknown.
type Hint struct {
	ModelID   string
	StartedAt time.Time
}

// Listed is a call seen on a list page whose queue row should be served
// by list reads.
type Listed struct {
	CallID string
	Hint
}

// ModelDue counts the due rows of one agent that a list read should serve.
type ModelDue struct {
	ModelID string
	Due     int       // due rows
	New     int       // of those, never stored yet
	Open    int       // pending rows of the agent served by list reads, due or not
	Oldest  time.Time // when the longest-waiting of them became due
}

const enqueueHookHintSQL = `
WITH erased AS (SELECT EXISTS (SELECT FROM erased_calls WHERE call_id = $1) AS erased),
hook AS (
    INSERT INTO sync_queue AS q (call_id, model_id, started_at, fetch_by)
    SELECT $1, $3, $4, $5 WHERE NOT (SELECT erased FROM erased)
    ON CONFLICT (call_id) DO UPDATE SET
        state           = CASE WHEN q.state = 'running' THEN 'running' ELSE 'pending' END,
        requeue         = q.state = 'running',
        attempts        = CASE WHEN q.state = 'done' THEN 0 ELSE q.attempts END,
        polls           = CASE WHEN q.state = 'done' THEN 0 ELSE q.polls END,
        hook_polls      = CASE WHEN q.state = 'pending' THEN q.polls ELSE -1 END,
        next_attempt_at = CASE WHEN q.state = 'running' THEN q.next_attempt_at ELSE least(q.next_attempt_at, now()) END,
        model_id        = coalesce(q.model_id, EXCLUDED.model_id),
        started_at      = CASE WHEN q.model_id IS NULL THEN EXCLUDED.started_at ELSE q.started_at END,
        fetch_by        = CASE WHEN q.state = 'done' OR q.model_id IS NULL THEN EXCLUDED.fetch_by ELSE q.fetch_by END,
        enqueued_at     = now(),
        updated_at      = now()
    WHERE q.updated_at <= now() - $2 * interval '1 millisecond'
       OR (q.state = 'pending' AND q.next_attempt_at > now() AND q.last_error IS NULL AND q.polls > q.hook_polls)
    RETURNING (xmax = 0) AS added)
SELECT (SELECT erased FROM erased), (SELECT added FROM hook)`

// EnqueueHookHint is EnqueueHook with what the webhook said of the call's
// agent and start: a new row takes the hint, and is served by a list read
// when list is set, else by a get. A row that knows its agent already (from
// a list page) keeps what it knows. Besides the cooldown rule of
// EnqueueHook, a webhook moves a pending row that waits on a re-fetch (a
// status not final) to due now, once per re-fetch: the call has just ended,
// and replays cost nothing more.
func (db *DB) EnqueueHookHint(ctx context.Context, id string, h Hint, list bool, cooldown time.Duration) (string, error) {
	var model *string
	var started *time.Time
	if h.ModelID != "" {
		model = &h.ModelID
	}
	if !h.StartedAt.IsZero() {
		started = &h.StartedAt
	}
	fetchBy := "get"
	if list && model != nil && started != nil {
		fetchBy = "list"
	}
	var erased bool
	var added *bool
	if err := db.pool.QueryRow(ctx, enqueueHookHintSQL, id, cooldown.Milliseconds(), model, started, fetchBy).Scan(&erased, &added); err != nil {
		return "", fmt.Errorf("enqueue call %s from a webhook: %w", id, err)
	}
	return hookResult(erased, added), nil
}

const enqueueListedSQL = `
INSERT INTO sync_queue AS q (call_id, model_id, started_at, fetch_by, next_attempt_at)
SELECT t.id, t.model, t.started, 'list', now() + $4 * interval '1 millisecond'
FROM   unnest($1::text[], $2::text[], $3::timestamptz[]) AS t(id, model, started)
WHERE  NOT EXISTS (SELECT FROM erased_calls e WHERE e.call_id = t.id)
ON CONFLICT (call_id) DO UPDATE SET model_id = EXCLUDED.model_id, started_at = EXCLUDED.started_at
WHERE  q.state <> 'done' AND (q.model_id IS DISTINCT FROM EXCLUDED.model_id OR q.started_at IS DISTINCT FROM EXCLUDED.started_at)
RETURNING (xmax = 0) AS added`

// EnqueueListed queues calls a list page showed with a status that is not
// final: a call new to the queue is served by list reads, due after delay;
// a known one that is not done takes the page's agent and start, which
// correct a webhook's hint, and keeps its schedule. It returns how many it
// added. Erased calls are not queued.
func (db *DB) EnqueueListed(ctx context.Context, calls []Listed, delay time.Duration) (int, error) {
	if len(calls) == 0 {
		return 0, nil
	}
	ids := make([]string, len(calls))
	models := make([]string, len(calls))
	starts := make([]time.Time, len(calls))
	for i, c := range calls {
		ids[i], models[i], starts[i] = c.CallID, c.ModelID, c.StartedAt
	}
	rows, err := db.pool.Query(ctx, enqueueListedSQL, ids, models, starts, delay.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("enqueue %d listed calls: %w", len(calls), err)
	}
	added, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return 0, fmt.Errorf("enqueue %d listed calls: %w", len(calls), err)
	}
	n := 0
	for _, a := range added {
		if a {
			n++
		}
	}
	return n, nil
}

const settleListedSQL = `
UPDATE sync_queue
SET    state = 'done', extra = true, last_error = NULL, last_bad_body = NULL, suspect = false,
       next_attempt_at = now(), updated_at = now()
WHERE  call_id = ANY($1::text[]) AND state = 'pending'`

// SettleListed marks done the pending rows of calls a list page showed, and
// that were stored from it, with a final status; each is an extra (a get
// would add the fields list pages lack). Rows claimed by a worker are left
// to it. It returns how many it settled.
func (db *DB) SettleListed(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := db.pool.Exec(ctx, settleListedSQL, ids)
	if err != nil {
		return 0, fmt.Errorf("settle %d listed calls: %w", len(ids), err)
	}
	return int(tag.RowsAffected()), nil
}

const listDueSQL = `
SELECT model_id, count(*), count(*) FILTER (WHERE polls = 0 AND last_error IS NULL), min(next_attempt_at),
       (SELECT count(*) FROM sync_queue o WHERE o.state = 'pending' AND o.fetch_by = 'list' AND o.model_id = q.model_id)
FROM   sync_queue q
WHERE  state = 'pending' AND fetch_by = 'list' AND model_id IS NOT NULL AND next_attempt_at <= now()
  AND  started_at >= now() - $1 * interval '1 millisecond'
GROUP  BY model_id`

const nextListDueSQL = `
SELECT min(next_attempt_at) FROM sync_queue
WHERE  state = 'pending' AND fetch_by = 'list' AND next_attempt_at > now()`

// ListDue returns, per agent, the due rows a list read should serve (those
// whose call started less than maxAge ago), and when the next such row
// not yet due becomes due (zero when none).
func (db *DB) ListDue(ctx context.Context, maxAge time.Duration) ([]ModelDue, time.Time, error) {
	rows, err := db.pool.Query(ctx, listDueSQL, maxAge.Milliseconds())
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("count rows due for list reads: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ModelDue, error) {
		var m ModelDue
		err := r.Scan(&m.ModelID, &m.Due, &m.New, &m.Oldest, &m.Open)
		return m, err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("count rows due for list reads: %w", err)
	}
	var next *time.Time
	if err := db.pool.QueryRow(ctx, nextListDueSQL).Scan(&next); err != nil {
		return nil, time.Time{}, fmt.Errorf("find the next row due for a list read: %w", err)
	}
	if next == nil {
		return due, time.Time{}, nil
	}
	return due, *next, nil
}

const claimListedSQL = `
WITH due AS (
       SELECT call_id FROM sync_queue
       WHERE  state = 'pending' AND fetch_by = 'list' AND model_id = $1 AND next_attempt_at <= now()
         AND  started_at >= now() - $5 * interval '1 millisecond'
       ORDER  BY next_attempt_at
       LIMIT  $2
       FOR UPDATE SKIP LOCKED)
UPDATE sync_queue q
SET    state = 'running', locked_until = now() + $3 * interval '1 millisecond',
       lease_token = $4, requeue = false, updated_at = now()
FROM   due
WHERE  q.call_id = due.call_id
RETURNING q.call_id, q.attempts, q.polls, q.enqueued_at, q.suspect, q.model_id, q.started_at`

// ClaimListed takes up to limit due rows of one agent that a list read
// should serve (started less than maxAge ago), oldest due first, and holds
// them as running for the lease, with their hints. Settle them with
// Complete or Release, as Claim's.
func (db *DB) ClaimListed(ctx context.Context, model string, limit int, lease, maxAge time.Duration) (Lease, error) {
	token := rand.Int64()
	rows, err := db.pool.Query(ctx, claimListedSQL, model, limit, lease.Milliseconds(), token, maxAge.Milliseconds())
	if err != nil {
		return Lease{}, fmt.Errorf("claim rows of model %s for a list read: %w", model, err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Claimed, error) {
		var c Claimed
		var started *time.Time
		err := r.Scan(&c.CallID, &c.Attempts, &c.Polls, &c.EnqueuedAt, &c.Suspect, &c.ModelID, &started)
		if started != nil {
			c.StartedAt = *started
		}
		return c, err
	})
	if err != nil {
		return Lease{}, fmt.Errorf("claim rows of model %s for a list read: %w", model, err)
	}
	return Lease{Token: token, Rows: claimed}, nil
}

const claimExtrasSQL = `
WITH due AS (
       SELECT call_id FROM sync_queue
       WHERE  state = 'done' AND extra
       ORDER  BY updated_at DESC
       LIMIT  $1
       FOR UPDATE SKIP LOCKED)
UPDATE sync_queue q
SET    state = 'running', extra = false, locked_until = now() + $2 * interval '1 millisecond',
       lease_token = $3, requeue = false
FROM   due LEFT JOIN calls c ON c.call_id = due.call_id
WHERE  q.call_id = due.call_id
RETURNING q.call_id, q.attempts, q.polls, q.enqueued_at, q.suspect,
          c.call_id IS NOT NULL, c.payload_hash, c.status, c.started_at`

// ClaimExtras takes up to limit extras (done rows a get would complete),
// newest first, and holds them as running for the lease, with what the
// warehouse holds of their calls. Settle them with Complete (done) or
// Release.
func (db *DB) ClaimExtras(ctx context.Context, limit int, lease time.Duration) (Lease, error) {
	token := rand.Int64()
	rows, err := db.pool.Query(ctx, claimExtrasSQL, limit, lease.Milliseconds(), token)
	if err != nil {
		return Lease{}, fmt.Errorf("claim extras: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, scanClaimed)
	if err != nil {
		return Lease{}, fmt.Errorf("claim extras: %w", err)
	}
	return Lease{Token: token, Rows: claimed}, nil
}

const extrasSQL = `SELECT count(*) FROM sync_queue WHERE state = 'done' AND extra`

// Extras returns how many done rows wait for a get that would add the
// fields list pages lack.
func (db *DB) Extras(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, extrasSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count extras: %w", err)
	}
	return n, nil
}

const claimPollSQL = `
INSERT INTO poll_watermarks AS w (model_id, watermark, polled_at) VALUES ($1, $3, $4)
ON CONFLICT (model_id) DO UPDATE SET polled_at = $4
WHERE  w.polled_at <= $4::timestamptz - $2 * interval '1 millisecond'
RETURNING watermark, (xmax = 0)`

// ClaimPoll takes the poll of a model at now, unless one was taken less
// than every before now (by this process or another): it returns the
// model's watermark, or start for a model never polled (then first is
// set), and ok. The poll's end is recorded by AdvanceWatermark.
func (db *DB) ClaimPoll(ctx context.Context, model string, now time.Time, every time.Duration, start time.Time) (wm time.Time, first, ok bool, err error) {
	err = db.pool.QueryRow(ctx, claimPollSQL, model, every.Milliseconds(), start, now).Scan(&wm, &first)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, false, nil
	}
	if err != nil {
		return time.Time{}, false, false, fmt.Errorf("claim a poll of model %s: %w", model, err)
	}
	return wm.UTC(), first, true, nil
}
