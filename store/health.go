package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrMigrationsPending is returned by Ready when the database lacks
// migrations that this binary embeds.
var ErrMigrationsPending = errors.New("store: migrations pending")

// Health is the row of the sync_health view: the queue and the workers at
// a glance. Zero times mean "none".
type Health struct {
	// Queue rows per state.
	Pending, Running, Done, Failed int64
	// Due counts pending rows whose next attempt is due now.
	Due int64
	// OldestDueAt is when the longest-waiting due row became due.
	OldestDueAt time.Time
	// OldestDueAge is how long ago that was, in whole seconds; 0 when
	// nothing is due.
	OldestDueAge time.Duration
	// FailedLast24h counts rows that became failed in the last 24 hours.
	FailedLast24h int64
	// LastPassAt is when the latest recorded pass ended.
	LastPassAt time.Time
	// LastSuccessAt is when the latest pass without error ended.
	LastSuccessAt time.Time
	// FailedPassesLast24h counts passes that ended with an error in the last 24 hours.
	FailedPassesLast24h int64
	// APIPausedUntil is when requests to the API may resume after a 429,
	// at most MaxPause after CheckedAt.
	APIPausedUntil time.Time
	// CheckedAt is the database's time of the reading.
	CheckedAt time.Time
}

const healthSQL = `
SELECT pending, running, done, failed, due, oldest_due_at, oldest_due_age_seconds, failed_last_24h,
       last_pass_at, last_successful_pass_at, failed_passes_last_24h, api_paused_until, checked_at
FROM   sync_health`

// Health reads the sync_health view.
func (db *DB) Health(ctx context.Context) (Health, error) {
	var h Health
	var age int64
	var oldest, last, success, paused *time.Time
	err := db.pool.QueryRow(ctx, healthSQL).Scan(&h.Pending, &h.Running, &h.Done, &h.Failed, &h.Due, &oldest, &age,
		&h.FailedLast24h, &last, &success, &h.FailedPassesLast24h, &paused, &h.CheckedAt)
	if err != nil {
		return h, fmt.Errorf("read sync health: %w", err)
	}
	h.OldestDueAge = time.Duration(age) * time.Second
	h.OldestDueAt, h.LastPassAt, h.LastSuccessAt, h.APIPausedUntil = orZero(oldest), orZero(last), orZero(success), orZero(paused)
	if limit := h.CheckedAt.Add(MaxPause); h.APIPausedUntil.After(limit) {
		h.APIPausedUntil = limit // as the limiter reads it (see MaxPause)
	}
	return h, nil
}

// Ready checks that the database answers and that every migration this
// binary embeds is applied. It returns the connection error, wrapped, when
// the database does not answer, and an error matching ErrMigrationsPending
// when migrations are missing.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	ok, err := migrationsCurrent(ctx, db.pool)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: run callsync migrate up", ErrMigrationsPending)
	}
	return nil
}

// orZero returns *t, or the zero time for NULL.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
