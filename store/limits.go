package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// takeTokensSQL refills the bucket for the time since it was last used and
// takes $4 tokens, all or none, if there are that many and no pause is in
// force. It runs on the locked, latest version of the row, so concurrent
// takers from any process are serialized. $2 is tokens per second, $3 the
// bucket size.
const takeTokensSQL = `
UPDATE api_limits SET
    granted    = (paused_until IS NULL OR paused_until <= now())
                 AND LEAST($3, tokens + GREATEST(0, EXTRACT(EPOCH FROM now() - updated_at)) * $2) >= $4,
    tokens     = LEAST($3, tokens + GREATEST(0, EXTRACT(EPOCH FROM now() - updated_at)) * $2)
                 - CASE WHEN (paused_until IS NULL OR paused_until <= now())
                         AND LEAST($3, tokens + GREATEST(0, EXTRACT(EPOCH FROM now() - updated_at)) * $2) >= $4
                        THEN $4 ELSE 0 END,
    updated_at = GREATEST(updated_at, now())
WHERE key = $1
RETURNING granted, tokens, GREATEST(EXTRACT(EPOCH FROM paused_until - now()), 0)`

const createBucketSQL = `
INSERT INTO api_limits (key, tokens, updated_at) VALUES ($1, $2, now())
ON CONFLICT (key) DO NOTHING`

// TakeTokens takes n request tokens at once from the shared bucket key,
// which refills at perSecond up to burst tokens: all n or none, so that a
// taker asking for a chunk waits for the chunk instead of coming back for
// every token. n above burst is taken as burst. It reports whether the
// tokens were taken and, when not, how long to wait before asking again:
// until the pause ends, or until n tokens are due.
func (db *DB) TakeTokens(ctx context.Context, key string, n int, perSecond, burst float64) (bool, time.Duration, error) {
	want := min(float64(max(n, 1)), burst)
	for range 2 {
		var granted bool
		var tokens, pausedFor float64
		err := db.pool.QueryRow(ctx, takeTokensSQL, key, perSecond, burst, want).Scan(&granted, &tokens, &pausedFor)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := db.pool.Exec(ctx, createBucketSQL, key, burst); err != nil {
				return false, 0, fmt.Errorf("create rate limit bucket: %w", err)
			}
			continue
		}
		if err != nil {
			return false, 0, fmt.Errorf("take rate limit tokens: %w", err)
		}
		if granted {
			return true, 0, nil
		}
		wait := seconds(pausedFor)
		if wait == 0 {
			wait = seconds((want - tokens) / perSecond)
		}
		return false, max(wait, time.Millisecond), nil
	}
	return false, 0, errors.New("take rate limit tokens: bucket row vanished")
}

const pauseSQL = `
INSERT INTO api_limits (key, tokens, updated_at, paused_until)
VALUES ($1, 0, now(), now() + $2 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE
SET paused_until = GREATEST(api_limits.paused_until, EXCLUDED.paused_until), tokens = 0
RETURNING paused_until`

// Pause stops every request with key for d (or longer, if a longer pause is
// already in force) and empties the bucket, so that requests resume one at
// a time. It returns when the pause ends.
func (db *DB) Pause(ctx context.Context, key string, d time.Duration) (time.Time, error) {
	var until time.Time
	if err := db.pool.QueryRow(ctx, pauseSQL, key, d.Milliseconds()).Scan(&until); err != nil {
		return time.Time{}, fmt.Errorf("pause api requests: %w", err)
	}
	return until, nil
}

func seconds(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
