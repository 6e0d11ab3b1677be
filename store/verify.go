package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Range is a span of call start times: From inclusive, To exclusive.
type Range struct {
	From, To time.Time
}

const countCallsSQL = `
SELECT (SELECT count(*) FROM calls c
        WHERE  c.model_id = $1 AND c.started_at >= w.f AND c.started_at < w.t)
     + (SELECT count(*) FROM erased_calls e
        WHERE  e.model_id = $1 AND e.started_at >= w.f AND e.started_at < w.t)
FROM   unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(f, t, i)
ORDER  BY w.i`

// CountCalls returns, for each range in order, how many of model's calls
// the warehouse holds that started within it, erased calls (callsync
// forget) included: the API still counts them. Calls without a start time
// count nowhere.
func (db *DB) CountCalls(ctx context.Context, modelID string, ranges []Range) ([]int, error) {
	if len(ranges) == 0 {
		return nil, nil
	}
	froms, tos := make([]time.Time, len(ranges)), make([]time.Time, len(ranges))
	for i, r := range ranges {
		froms[i], tos[i] = r.From, r.To
	}
	rows, err := db.pool.Query(ctx, countCallsSQL, modelID, froms, tos)
	if err != nil {
		return nil, fmt.Errorf("count calls of model %s: %w", modelID, err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("count calls of model %s: %w", modelID, err)
	}
	return counts, nil
}
