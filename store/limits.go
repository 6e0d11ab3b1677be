package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// takeTokensSQL refills the bucket for the time since it was last used and,
// if no pause is in force and at least $4 tokens are there, takes them up to
// $5. The row is locked and read in its latest version first, so concurrent
// takers from any process are serialized. $2 is tokens per second, $3 the
// bucket size.
//
// Its commit does not wait for the WAL to reach the disk (synchronous_commit
// off for this statement's transaction alone): a taker that waited for the
// flush would hold the row lock, and every request of every process waiting
// on a token, for a disk flush. A crash of the server can forget the takes
// of its last few hundred milliseconds (three wal_writer_delay at most), a
// fraction of a second of the rate, inside the limiter's margin. Pauses
// (pauseSQL) stay durable.
//
// A pause further ahead than $6 seconds (MaxPause: stored by an older build)
// is cut to end $6 seconds from now, in the row too, so that it ends.
const takeTokensSQL = `
WITH async AS (
    SELECT set_config('synchronous_commit', 'off', true)
), cur AS (
    SELECT key,
           LEAST($3, tokens + GREATEST(0, EXTRACT(EPOCH FROM now() - updated_at)) * $2) AS avail,
           LEAST(GREATEST(EXTRACT(EPOCH FROM paused_until - now()), 0), $6) AS paused_for
    FROM   api_limits
    WHERE  key = $1
    FOR UPDATE
), take AS (
    SELECT key, avail, paused_for,
           CASE WHEN paused_for > 0 OR floor(avail) < $4 THEN 0 ELSE LEAST($5, floor(avail)) END AS n
    FROM   cur
)
UPDATE api_limits a
SET    tokens = take.avail - take.n, updated_at = GREATEST(a.updated_at, now()), granted = take.n > 0,
       paused_until = CASE WHEN a.paused_until > now() + $6 * interval '1 second'
                           THEN now() + $6 * interval '1 second' ELSE a.paused_until END
FROM   take, async
WHERE  a.key = take.key
RETURNING take.n::int, a.tokens, take.paused_for`

const createBucketSQL = `
INSERT INTO api_limits (key, tokens, updated_at) VALUES ($1, $2, now())
ON CONFLICT (key) DO NOTHING`

// TakeTokens takes between least and most request tokens at once from the
// shared bucket key, which refills at perSecond up to burst tokens: as many
// as are there up to most, or none when fewer than least are. least above
// burst is taken as burst. It returns how many it took and how long to wait
// before asking again: when it took none, until the pause ends or until
// least tokens are due; when it took some, until least more are due (0
// when they are there already), so that a taker at a limit that binds does
// not ask the bucket just emptied.
func (db *DB) TakeTokens(ctx context.Context, key string, least, most int, perSecond, burst float64) (int, time.Duration, error) {
	lo := min(float64(max(least, 1)), math.Floor(max(burst, 1)))
	hi := max(float64(most), lo)
	for range 2 {
		var taken int
		var tokens, pausedFor float64
		err := db.pool.QueryRow(ctx, takeTokensSQL, key, perSecond, burst, lo, hi, MaxPause.Seconds()).Scan(&taken, &tokens, &pausedFor)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := db.pool.Exec(ctx, createBucketSQL, key, burst); err != nil {
				return 0, 0, fmt.Errorf("create rate limit bucket: %w", err)
			}
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("take rate limit tokens: %w", err)
		}
		if taken > 0 {
			return taken, seconds((lo - tokens) / perSecond), nil
		}
		wait := seconds(pausedFor)
		if wait == 0 {
			wait = seconds((lo - tokens) / perSecond)
		}
		return 0, max(wait, time.Millisecond), nil
	}
	return 0, 0, errors.New("take rate limit tokens: bucket row vanished")
}

// MaxPause is the longest pause api_limits keeps: a pause asked for
// longer, or stored further ahead by an older build, is cut to end within
// MaxPause of the moment it is read or written.
const MaxPause = 5 * time.Minute

const clearPausesSQL = `UPDATE api_limits SET paused_until = NULL WHERE paused_until > now()`

// ClearPauses ends every pause in force, for every key, and returns how
// many it ended. Processes learn of it the next time they ask the bucket.
func (db *DB) ClearPauses(ctx context.Context) (int64, error) {
	tag, err := db.pool.Exec(ctx, clearPausesSQL)
	if err != nil {
		return 0, fmt.Errorf("clear api pauses: %w", err)
	}
	return tag.RowsAffected(), nil
}

const pauseSQL = `
INSERT INTO api_limits (key, tokens, updated_at, paused_until)
VALUES ($1, 0, now(), now() + $2 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE
SET paused_until = GREATEST(CASE WHEN api_limits.paused_until > now() + $3 * interval '1 millisecond'
                               THEN now() + $3 * interval '1 millisecond' ELSE api_limits.paused_until END,
                          EXCLUDED.paused_until),
    tokens = 0
RETURNING paused_until`

// Pause stops every request with key for d (or longer, if a longer pause is
// already in force), at most MaxPause, and empties the bucket, so that
// requests resume one at a time. It returns at once, with the time the
// pause ends.
func (db *DB) Pause(ctx context.Context, key string, d time.Duration) (time.Time, error) {
	var until time.Time
	d = min(max(d, 0), MaxPause)
	if err := db.pool.QueryRow(ctx, pauseSQL, key, d.Milliseconds(), MaxPause.Milliseconds()).Scan(&until); err != nil {
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
