package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const addRequestsSQL = `
INSERT INTO api_requests AS r (minute, purpose, requests)
SELECT date_trunc('minute', now()), p, n FROM unnest($1::text[], $2::bigint[]) AS t(p, n) WHERE n > 0
ON CONFLICT (minute, purpose) DO UPDATE SET requests = r.requests + EXCLUDED.requests`

// AddRequests adds API requests sent, by purpose, to the current minute's
// counts.
func (db *DB) AddRequests(ctx context.Context, byPurpose map[string]int64) error {
	if len(byPurpose) == 0 {
		return nil
	}
	purposes := make([]string, 0, len(byPurpose))
	counts := make([]int64, 0, len(byPurpose))
	for p, n := range byPurpose {
		purposes = append(purposes, p)
		counts = append(counts, n)
	}
	if _, err := db.pool.Exec(ctx, addRequestsSQL, purposes, counts); err != nil {
		return fmt.Errorf("count API requests: %w", err)
	}
	return nil
}

const requestsSinceSQL = `
SELECT purpose, sum(requests)::bigint FROM api_requests WHERE minute >= date_trunc('minute', $1::timestamptz) GROUP BY purpose`

// RequestsSince returns the API requests counted since t (to the minute),
// by purpose.
func (db *DB) RequestsSince(ctx context.Context, t time.Time) (map[string]int64, error) {
	rows, err := db.pool.Query(ctx, requestsSinceSQL, t)
	if err != nil {
		return nil, fmt.Errorf("read API requests: %w", err)
	}
	out := map[string]int64{}
	var p string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error {
		out[p] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read API requests: %w", err)
	}
	return out, nil
}

const pruneRequestsSQL = `DELETE FROM api_requests WHERE minute < $1`

// PruneRequests deletes the request counts of minutes before t.
func (db *DB) PruneRequests(ctx context.Context, t time.Time) error {
	if _, err := db.pool.Exec(ctx, pruneRequestsSQL, t); err != nil {
		return fmt.Errorf("prune API request counts: %w", err)
	}
	return nil
}
