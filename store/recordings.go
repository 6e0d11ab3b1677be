package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Recording states, as kept in recordings.state.
const (
	RecordingPending    = "pending"
	RecordingArchived   = "archived"
	RecordingNone       = "none"
	RecordingProcessing = "processing"
	RecordingGone       = "gone"
	RecordingError      = "error"
	RecordingDelete     = "delete"
	RecordingDeleted    = "deleted"
)

// Never is the next try of a recording row that is not tried again.
var Never = time.Time{}

// RecordingTask is a recordings row taken by ClaimRecordings, with what the
// archiver needs of its call.
type RecordingTask struct {
	CallID    string
	StartedAt time.Time // the call's start, or its first sync
	State     string    // the row's state when taken
	Attempts  int
	// Status is the call's status; empty when unknown.
	Status string
	// RecordingDuration is the list endpoint's recording_duration; nil when
	// not sent.
	RecordingDuration *float64
}

// RecordingOutcome is what became of a RecordingTask.
type RecordingOutcome struct {
	CallID string
	State  string // one of the Recording* states but delete and deleted
	// Of an archived recording:
	ObjectKey   string
	ContentType string
	Size        int64
	SHA256      []byte
	Duration    *float64
	// NextTry is when to take the row again; Never (zero) for never.
	NextTry time.Time
	// Attempt counts the request that led here in attempts.
	Attempt bool
	// Error is why, for an error state; no URL, no personal data.
	Error string
}

// RecordingObject is an archived object of a call.
type RecordingObject struct {
	CallID string
	Key    string
	State  string
}

// RecordingStatus summarizes the recordings table for operators.
type RecordingStatus struct {
	// Counts holds the number of rows per state; states with no rows are absent.
	Counts map[string]int
	// Backlog counts the rows still to archive: pending, processing, and
	// errors that will be tried again.
	Backlog int
	// OldestBacklog is the start of the oldest call of the backlog; zero
	// when there is none.
	OldestBacklog time.Time
	// Bytes is the size of the archived objects.
	Bytes int64
	// LastError is the newest last_error of a row still tried, empty when none.
	LastError string
}

const claimRecordingsSQL = `
WITH due AS (
    SELECT call_id FROM recordings
    WHERE  state IN ('pending', 'processing', 'none', 'error') AND next_try_at < 'infinity' AND next_try_at <= now()
    ORDER  BY call_started_at LIMIT $1 FOR UPDATE SKIP LOCKED)
UPDATE recordings r SET next_try_at = now() + $2 * interval '1 millisecond'
FROM   due LEFT JOIN calls c ON c.call_id = due.call_id
WHERE  r.call_id = due.call_id
RETURNING r.call_id, r.call_started_at, r.state, r.attempts, coalesce(c.status, ''), c.recording_duration`

// ClaimRecordings takes up to limit recordings rows that are due, oldest
// calls first, and holds them for hold: another process does not take
// them meanwhile, and a process that dies holding them leaves them due
// again after it.
func (db *DB) ClaimRecordings(ctx context.Context, limit int, hold time.Duration) ([]RecordingTask, error) {
	rows, err := db.pool.Query(ctx, claimRecordingsSQL, limit, hold.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("claim recordings: %w", err)
	}
	tasks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RecordingTask, error) {
		var t RecordingTask
		err := r.Scan(&t.CallID, &t.StartedAt, &t.State, &t.Attempts, &t.Status, &t.RecordingDuration)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim recordings: %w", err)
	}
	return tasks, nil
}

// The row must still be one the archiver may settle: forget and retention
// delete rows without an object, and an object uploaded meanwhile must go.
const settleRecordingSQL = `
UPDATE recordings SET
    state = $2::text, object_key = NULLIF($3, ''), content_type = NULLIF($4, ''), size_bytes = $5, sha256 = $6,
    duration_seconds = $7, archived_at = CASE WHEN $2 = 'archived' THEN now() END,
    next_try_at = coalesce($8::timestamptz, 'infinity'), attempts = attempts + $9::int, last_error = NULLIF($10, ''),
    updated_at = now()
WHERE  call_id = $1 AND state IN ('pending', 'processing', 'none', 'error', 'archived')
RETURNING call_id`

// SettleRecording records an outcome. It returns ErrNotFound when the row
// is gone or marked for deletion (the call was forgotten or its recording
// pruned meanwhile): an object uploaded for it must be deleted.
func (db *DB) SettleRecording(ctx context.Context, o RecordingOutcome) error {
	var next *time.Time
	if !o.NextTry.IsZero() {
		next = &o.NextTry
	}
	var size *int64
	if o.State == RecordingArchived {
		size = &o.Size
	}
	attempt := 0
	if o.Attempt {
		attempt = 1
	}
	var id string
	err := db.pool.QueryRow(ctx, settleRecordingSQL, o.CallID, o.State, o.ObjectKey, o.ContentType, size, o.SHA256,
		o.Duration, next, attempt, o.Error).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("settle recording of %s: %w", o.CallID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("settle recording of %s: %w", o.CallID, err)
	}
	return nil
}

const recordingsToDeleteSQL = `
SELECT call_id, object_key, state FROM recordings WHERE state = 'delete' ORDER BY call_id LIMIT $1`

// RecordingsToDelete returns up to limit objects that forget or retention
// marked for deletion.
func (db *DB) RecordingsToDelete(ctx context.Context, limit int) ([]RecordingObject, error) {
	rows, err := db.pool.Query(ctx, recordingsToDeleteSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("list recordings to delete: %w", err)
	}
	objs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RecordingObject])
	if err != nil {
		return nil, fmt.Errorf("list recordings to delete: %w", err)
	}
	return objs, nil
}

const recordingDeletedSQL = `
UPDATE recordings SET state = 'deleted', object_key = NULL, size_bytes = NULL, sha256 = NULL,
                      next_try_at = 'infinity', updated_at = now()
WHERE  call_id = $1 AND state = 'delete' AND object_key = $2`

// RecordingDeleted records that the object key of callID was deleted.
func (db *DB) RecordingDeleted(ctx context.Context, callID, key string) error {
	if _, err := db.pool.Exec(ctx, recordingDeletedSQL, callID, key); err != nil {
		return fmt.Errorf("record deletion of the recording of %s: %w", callID, err)
	}
	return nil
}

const recordingObjectSQL = `SELECT call_id, coalesce(object_key, ''), state FROM recordings WHERE call_id = $1`

// Recording returns the recordings row of callID. It returns ErrNotFound
// when there is none.
func (db *DB) Recording(ctx context.Context, callID string) (RecordingObject, error) {
	var o RecordingObject
	err := db.pool.QueryRow(ctx, recordingObjectSQL, callID).Scan(&o.CallID, &o.Key, &o.State)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("recording of %s: %w", callID, ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("recording of %s: %w", callID, err)
	}
	return o, nil
}

const recordingCountsSQL = `SELECT state, count(*), coalesce(sum(size_bytes), 0) FROM recordings GROUP BY state`

const recordingBacklogSQL = `
SELECT count(*), min(call_started_at),
       (SELECT last_error FROM recordings
        WHERE  state IN ('pending', 'processing', 'none', 'error') AND next_try_at < 'infinity' AND last_error IS NOT NULL
        ORDER  BY updated_at DESC LIMIT 1)
FROM   recordings
WHERE  state IN ('pending', 'processing', 'error') AND next_try_at < 'infinity'`

// RecordingStatus reads the counts of the recordings table and its backlog.
func (db *DB) RecordingStatus(ctx context.Context) (RecordingStatus, error) {
	st := RecordingStatus{Counts: map[string]int{}}
	rows, err := db.pool.Query(ctx, recordingCountsSQL)
	if err != nil {
		return st, fmt.Errorf("count recordings: %w", err)
	}
	var state string
	var n int
	var bytes int64
	if _, err := pgx.ForEachRow(rows, []any{&state, &n, &bytes}, func() error {
		st.Counts[state] = n
		if state == RecordingArchived {
			st.Bytes = bytes
		}
		return nil
	}); err != nil {
		return st, fmt.Errorf("count recordings: %w", err)
	}
	var err2 error
	st.Backlog, st.OldestBacklog, st.LastError, err2 = db.recordingBacklog(ctx)
	if err2 != nil {
		return st, err2
	}
	return st, nil
}

// RecordingBacklog returns how many recordings are still to archive
// (pending, processing, errors tried again) and the start of the oldest
// call among them (zero when none is).
func (db *DB) RecordingBacklog(ctx context.Context) (int, time.Time, error) {
	n, oldest, _, err := db.recordingBacklog(ctx)
	return n, oldest, err
}

func (db *DB) recordingBacklog(ctx context.Context) (n int, oldest time.Time, lastErr string, err error) {
	var o *time.Time
	var last *string
	if err := db.pool.QueryRow(ctx, recordingBacklogSQL).Scan(&n, &o, &last); err != nil {
		return 0, time.Time{}, "", fmt.Errorf("recordings backlog: %w", err)
	}
	if o != nil {
		oldest = *o
	}
	if last != nil {
		lastErr = *last
	}
	return n, oldest, lastErr, nil
}

const releaseRecordingsSQL = `UPDATE recordings SET next_try_at = now() WHERE call_id = ANY($1::text[]) AND next_try_at > now()`

// ReleaseRecordings gives back claimed rows untouched: due again at once.
func (db *DB) ReleaseRecordings(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.pool.Exec(ctx, releaseRecordingsSQL, ids); err != nil {
		return fmt.Errorf("release recordings: %w", err)
	}
	return nil
}
