package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Erasure is a request to erase calls: by id, and every call from or to
// one of the phone numbers.
type Erasure struct {
	CallIDs []string
	// PhoneNumbers are the digits of the numbers (no +, spaces or
	// punctuation). Calls that store one in clear are found by the digits
	// of their numbers; each number is tombstoned as its pseudonym, so no
	// call from or to it is stored later; and queue rows whose kept failure
	// (last_error, last_bad_body) holds it have that failure cleared.
	PhoneNumbers []string
	// PhoneHashes are the same numbers as ingest hashes them when
	// SYNC_HASH_PHONE_NUMBERS is on, to find the calls stored hashed.
	PhoneHashes []string
	// Reason is kept in the erasures audit row; empty stores NULL.
	Reason string
}

// Erased says what Forget did.
type Erased struct {
	// ID is the erasures row of the request.
	ID int64
	// Calls lists the erased call ids, sorted: the stored calls deleted and
	// the ids given, stored or not, all tombstoned.
	Calls []string
	// Stored counts the calls of Calls that were stored and are deleted.
	Stored int
	// Unstored lists, sorted, the call ids of Calls that were neither
	// stored nor erased before: only a tombstone was written for them (an
	// erasure ahead of the sync, or a mistyped id).
	Unstored []string
	// Queued counts the queue rows deleted.
	Queued int
	// Numbers counts the phone numbers tombstoned (new or already).
	Numbers int
	// Cleared counts the queue rows whose kept failure held one of the
	// numbers and was cleared.
	Cleared int
}

// Calls stored before hashing was switched on hold the number in clear,
// in whatever format the API sent it; those stored after hold its hash.
const callsByPhoneSQL = `
SELECT call_id FROM calls
WHERE  regexp_replace(phone_number_from, '[^0-9]', '', 'g') = ANY($1::text[])
   OR  regexp_replace(phone_number_to, '[^0-9]', '', 'g') = ANY($1::text[])
   OR  phone_number_from = ANY($2::text[]) OR phone_number_to = ANY($2::text[])`

const tombstoneNumbersSQL = `
INSERT INTO erased_numbers (number_pseudonym, erasure_id)
SELECT DISTINCT callsync_pseudonym(n), $2::bigint FROM unnest($1::text[]) AS n
ON CONFLICT (number_pseudonym) DO NOTHING`

// A call that failed to decode keeps its body and error on its queue row,
// numbers, names and transcript included; the number is looked for as its
// digits, which every usual format of it (+ and digits, a JSON number)
// holds.
const clearFailuresSQL = `
UPDATE sync_queue SET last_bad_body = NULL, updated_at = now(),
       last_error = CASE WHEN last_error IS NOT NULL THEN '` + PrunedFailure + `' END
WHERE  (last_error IS NOT NULL OR last_bad_body IS NOT NULL)
  AND  EXISTS (SELECT FROM unnest($1::text[]) AS n
               WHERE strpos(coalesce(last_error, ''), n) > 0
                  OR position(convert_to(n, 'UTF8') IN coalesce(last_bad_body, ''::bytea)) > 0)`

const insertErasureSQL = `
INSERT INTO erasures (requested, erased, reason) VALUES ($1, 0, NULLIF($2, '')) RETURNING id`

// The tombstones keep model_id and started_at of stored calls, so that
// verify still counts them where the API does; a call erased twice keeps
// its first tombstone.
const tombstoneSQL = `
INSERT INTO erased_calls (call_id, model_id, started_at, erasure_id)
SELECT u.id, c.model_id, c.started_at, $2
FROM   unnest($1::text[]) AS u(id)
LEFT   JOIN calls c ON c.call_id = u.id
ORDER  BY u.id
ON CONFLICT (call_id) DO NOTHING
RETURNING call_id, model_id IS NULL AS unstored`

const deleteQueuedSQL = `DELETE FROM sync_queue WHERE call_id = ANY($1::text[])`

// Deleting calls deletes their child rows and marks their rollup keys (the
// calls_delete_children trigger, migration 00016), whoever deletes them.
const deleteCallsSQL = `DELETE FROM calls WHERE call_id = ANY($1::text[]) RETURNING call_id`

const finishErasureSQL = `UPDATE erasures SET erased = $2 WHERE id = $1`

// tombstone is a row tombstoneSQL wrote.
type tombstone struct {
	CallID   string
	Unstored bool
}

// Forget erases calls in one transaction: it tombstones the ids (so that
// no intake path stores or queues them again), deletes the stored calls
// with every row that references them, and their queue rows, and records
// the request in erasures. Writes of calls wait while it runs, and a call
// being fetched when it runs is not stored. Ids that are not stored are
// tombstoned all the same, so that an erasure may come before the call is
// synced. It returns an error, and erases nothing, when the database fails.
func (db *DB) Forget(ctx context.Context, req Erasure) (Erased, error) {
	var res Erased
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		res = Erased{}
		if err := lockPrivacy(ctx, tx); err != nil {
			return err
		}
		ids := map[string]bool{}
		for _, id := range req.CallIDs {
			ids[id] = true
		}
		if len(req.PhoneNumbers) > 0 || len(req.PhoneHashes) > 0 {
			rows, err := tx.Query(ctx, callsByPhoneSQL, req.PhoneNumbers, req.PhoneHashes)
			if err != nil {
				return fmt.Errorf("find calls by phone number: %w", err)
			}
			found, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("find calls by phone number: %w", err)
			}
			for _, id := range found {
				ids[id] = true
			}
		}
		list := slices.Sorted(maps.Keys(ids))
		if err := tx.QueryRow(ctx, insertErasureSQL, len(req.CallIDs)+len(req.PhoneNumbers), req.Reason).Scan(&res.ID); err != nil {
			return fmt.Errorf("record erasure: %w", err)
		}
		rows, err := tx.Query(ctx, tombstoneSQL, list, res.ID)
		if err != nil {
			return fmt.Errorf("tombstone calls: %w", err)
		}
		tombs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tombstone])
		if err != nil {
			return fmt.Errorf("tombstone calls: %w", err)
		}
		for _, tb := range tombs {
			if tb.Unstored {
				res.Unstored = append(res.Unstored, tb.CallID)
			}
		}
		slices.Sort(res.Unstored)
		if len(req.PhoneNumbers) > 0 {
			if _, err := tx.Exec(ctx, tombstoneNumbersSQL, req.PhoneNumbers, res.ID); err != nil {
				return fmt.Errorf("tombstone phone numbers: %w", err)
			}
			res.Numbers = len(slices.Compact(slices.Sorted(slices.Values(req.PhoneNumbers))))
			tag, err := tx.Exec(ctx, clearFailuresSQL, req.PhoneNumbers)
			if err != nil {
				return fmt.Errorf("clear kept failures: %w", err)
			}
			res.Cleared = int(tag.RowsAffected())
		}
		tag, err := tx.Exec(ctx, deleteQueuedSQL, list)
		if err != nil {
			return fmt.Errorf("delete queue rows: %w", err)
		}
		res.Queued = int(tag.RowsAffected())
		rows, err = tx.Query(ctx, deleteCallsSQL, list)
		if err != nil {
			return fmt.Errorf("delete calls: %w", err)
		}
		deleted, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("delete calls: %w", err)
		}
		res.Stored = len(deleted)
		res.Calls = list
		if _, err := tx.Exec(ctx, finishErasureSQL, res.ID, len(list)); err != nil {
			return fmt.Errorf("record erasure: %w", err)
		}
		return nil
	})
	if err != nil {
		return Erased{}, fmt.Errorf("erase calls: %w", err)
	}
	return res, nil
}

// UndoWindow is how long after its erasure a tombstone written for a call
// that was never stored may be removed with Unforget: long enough to catch
// a mistyped id, short enough that an erasure made ahead of the sync stays.
const UndoWindow = 24 * time.Hour

// Only tombstones that never stood for stored data (model_id and
// started_at are set when the call was stored) and are recent go; the
// audit row of their request counts them out again.
const unforgetSQL = `
WITH gone AS (
    DELETE FROM erased_calls
    WHERE  call_id = ANY($1::text[]) AND model_id IS NULL AND started_at IS NULL AND erased_at > now() - make_interval(secs => $2)
    RETURNING call_id, erasure_id
), audit AS (
    UPDATE erasures e SET erased = e.erased - g.n
    FROM   (SELECT erasure_id, count(*)::integer AS n FROM gone WHERE erasure_id IS NOT NULL GROUP BY erasure_id) g
    WHERE  e.id = g.erasure_id
)
SELECT call_id FROM gone ORDER BY call_id`

// Unforget removes the tombstones of ids that Forget wrote less than
// UndoWindow ago for calls that were not stored: a mistyped id no longer
// blocks the call it may name. Tombstones of calls whose data was erased,
// and older ones, stay. It returns the ids whose tombstone it removed,
// sorted, or the database's error.
func (db *DB) Unforget(ctx context.Context, ids []string) ([]string, error) {
	var removed []string
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if err := lockPrivacy(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, unforgetSQL, ids, UndoWindow.Seconds())
		if err != nil {
			return err
		}
		removed, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("remove tombstones: %w", err)
	}
	return removed, nil
}
