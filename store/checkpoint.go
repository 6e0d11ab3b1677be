package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Checkpoint is the progress of a backfill over one agent and time window,
// a row of backfill_checkpoints.
type Checkpoint struct {
	ModelID string
	// From and To bound the window: From inclusive, To exclusive.
	From, To time.Time
	// NextOffset is the offset of the next page to read; every page before
	// it is stored.
	NextOffset int
	// Total is total_records of the last page read; nil before the first
	// page or when the API sent none.
	Total *int
	// Landed is the warehouse's count of the window's calls when the window
	// was last checked; nil until then.
	Landed *int
	// Scans counts complete scans of the window.
	Scans int
	// Done means the window needs no more reading.
	Done bool
}

const checkpointsSQL = `
SELECT model_id, window_start, window_end, next_offset, total_records, landed, scans, done
FROM   backfill_checkpoints
WHERE  model_id = $1 AND window_start >= $2 AND window_end <= $3
ORDER  BY window_start, window_end`

// Checkpoints returns the checkpoints of model's windows that lie within
// [from, to), oldest first.
func (db *DB) Checkpoints(ctx context.Context, modelID string, from, to time.Time) ([]Checkpoint, error) {
	rows, err := db.pool.Query(ctx, checkpointsSQL, modelID, from, to)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints of model %s: %w", modelID, err)
	}
	cps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Checkpoint, error) {
		var c Checkpoint
		err := r.Scan(&c.ModelID, &c.From, &c.To, &c.NextOffset, &c.Total, &c.Landed, &c.Scans, &c.Done)
		c.From, c.To = c.From.UTC(), c.To.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoints of model %s: %w", modelID, err)
	}
	return cps, nil
}

const saveCheckpointSQL = `
INSERT INTO backfill_checkpoints (model_id, window_start, window_end, next_offset, total_records, landed, scans, done)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (model_id, window_start, window_end) DO UPDATE SET
    next_offset   = EXCLUDED.next_offset,
    total_records = EXCLUDED.total_records,
    landed        = EXCLUDED.landed,
    scans         = EXCLUDED.scans,
    done          = EXCLUDED.done,
    updated_at    = now()`

// SaveCheckpoint writes c, replacing the checkpoint of the same window.
func (db *DB) SaveCheckpoint(ctx context.Context, c Checkpoint) error {
	if _, err := db.pool.Exec(ctx, saveCheckpointSQL, c.ModelID, c.From, c.To, c.NextOffset, c.Total, c.Landed,
		c.Scans, c.Done); err != nil {
		return fmt.Errorf("save checkpoint of model %s window %s: %w", c.ModelID, c.From.Format(time.RFC3339), err)
	}
	return nil
}
