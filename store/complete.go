package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Outcome is what became of one claimed call, applied to its queue row
// together with the write of the call.
type Outcome struct {
	CallID string
	// Call is written when non-nil.
	Call *Call
	// UnchangedHash, when set instead of Call, is the hash of the payload just
	// fetched, the one the stored call had when it was claimed: only the
	// call's synced_at is touched. If the stored call has changed since, or
	// is gone, the row goes back to pending, due now, without counting an
	// attempt or a poll, so that the call is fetched and written in full.
	UnchangedHash []byte
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
	// FetchBy, when set ("get" or "list"), is how the row is served next;
	// empty keeps it.
	FetchBy string
	// Extra marks a done row whose call a get would complete (it was
	// stored from a list page); unset clears the mark.
	Extra bool
}

// CompleteResult says what Complete did besides settling rows.
type CompleteResult struct {
	// Lost lists calls whose lease was lost: neither settled nor written.
	Lost []string
	// Unchanged counts calls whose payload was the same as the stored one:
	// only their synced_at was touched.
	Unchanged int
	// Stale lists calls of outcomes with UnchangedHash whose stored call had
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

// completeSQL settles the rows among the calls $2 still held under lease
// token $1, each with its own outcome, found by call id in $3: a JSON
// object from call id to outcome (settleRow).
//
// No plan of it can join the batch with the queue: the rows are found
// with = ANY and each row's outcome by key, in a jsonb object. A join
// would be planned from the statistics of sync_queue, taken by autovacuum
// minutes ago while a pass moves thousands of rows a second from pending
// to running to done; planned from those, it compared every running row
// with every outcome, a nested loop over the batch whose cost a row grows
// with the batch's size. It is run unprepared (settle), so that the = ANY is
// a hash lookup whatever the batch size.
//
// The rows are locked first in call_id order (held), as Enqueue and
// EnqueueNew lock them, so that a backfill queueing calls while a worker
// completes them cannot deadlock with it.
const completeSQL = `
WITH held AS (
    SELECT call_id FROM sync_queue
    WHERE  call_id = ANY($2::text[]) AND state = 'running' AND lease_token = $1
    ORDER  BY call_id
    FOR    UPDATE)
UPDATE sync_queue q
SET    (state, attempts, polls, next_attempt_at, last_error, last_bad_body, fetch_by, extra) = (
           SELECT CASE WHEN q.requeue THEN 'pending' ELSE o.state END,
                  q.attempts + o.attempt::int,
                  q.polls + o.poll::int,
                  CASE WHEN q.requeue THEN now() ELSE now() + o.delay_ms * interval '1 millisecond' END,
                  NULLIF(o.error, ''),
                  decode(o.bad_body, 'base64'),
                  coalesce(NULLIF(o.fetch_by, ''), q.fetch_by),
                  coalesce(o.extra, false) AND NOT q.requeue
           FROM   jsonb_to_record($3::jsonb -> q.call_id)
                  AS o(state text, delay_ms bigint, attempt boolean, poll boolean, error text, bad_body text,
                       fetch_by text, extra boolean)),
       locked_until = NULL,
       lease_token  = NULL,
       requeue      = false,
       suspect      = false,
       updated_at   = now()
WHERE  q.call_id = ANY(ARRAY(SELECT call_id FROM held)) AND q.state = 'running' AND q.lease_token = $1
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
		if len(w.Erased) > 0 { // from or to an erased number: tombstoned by the write
			if _, err := tx.Exec(ctx, deleteQueuedSQL, w.Erased); err != nil {
				return fmt.Errorf("delete queue rows of erased calls: %w", err)
			}
			res.Erased = append(res.Erased, w.Erased...)
		}
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

// dropErased takes the privacy lock shared and the locks of the calls
// (lockCalls), finds the outcomes whose calls
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
	if err := lockCalls(ctx, tx, ids); err != nil {
		return nil, err
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

// settleRow is the outcome of one row as completeSQL reads it.
type settleRow struct {
	State   string `json:"state"`
	DelayMS int64  `json:"delay_ms"`
	Attempt bool   `json:"attempt"`
	Poll    bool   `json:"poll"`
	Error   string `json:"error"`
	BadBody []byte `json:"bad_body"` // base64 in JSON
	FetchBy string `json:"fetch_by,omitempty"`
	Extra   bool   `json:"extra,omitempty"`
}

// settle applies outcomes to the rows still held under token and returns
// the ids of those rows.
func settle(ctx context.Context, tx pgx.Tx, token int64, outcomes []Outcome) (map[string]bool, error) {
	ids := make([]string, len(outcomes))
	byID := make(map[string]settleRow, len(outcomes))
	for i, o := range outcomes {
		ids[i] = o.CallID
		byID[o.CallID] = settleRow{
			State: string(o.State), DelayMS: o.Delay.Milliseconds(), Attempt: o.Attempt, Poll: o.Poll,
			// JSON carries valid UTF-8 only, and text cannot hold NUL.
			Error:   strings.ToValidUTF8(strings.ReplaceAll(o.Error, "\x00", ""), "\uFFFD"),
			BadBody: badBody(o.BadBody), // nil stays nil: null
			FetchBy: o.FetchBy, Extra: o.Extra,
		}
	}
	byIDJSON, err := json.Marshal(byID)
	if err != nil {
		return nil, err
	}
	// Unprepared: planned with the batch's values, each time.
	rows, err := tx.Query(ctx, completeSQL, pgx.QueryExecModeCacheDescribe, token, ids, string(byIDJSON))
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
// write and the unchanged payloads to touch (Outcome.UnchangedHash), of the
// rows still held, and the ids of the rows no longer held.
func sortOutcomes(outcomes []Outcome, held map[string]bool) (calls []*Call, known []Outcome, lost []string) {
	calls = make([]*Call, 0, len(outcomes))
	for _, o := range outcomes {
		switch {
		case !held[o.CallID]:
			lost = append(lost, o.CallID)
		case o.Call != nil:
			calls = append(calls, o.Call)
		case o.UnchangedHash != nil:
			known = append(known, o)
		}
	}
	return calls, known, lost
}

// maxBadBody bounds the undecodable body kept on a queue row.
const maxBadBody = 64 << 10

// badBody returns what last_bad_body keeps of b: all of it, or nothing
// when it is longer than maxBadBody. Callers cut bodies where their
// secrets are known (api.Redactor.CutBytes); a cut here could split a
// secret and leave a piece of it unredacted.
func badBody(b []byte) []byte {
	if len(b) > maxBadBody {
		return nil
	}
	return b
}
