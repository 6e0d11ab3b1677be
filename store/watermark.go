package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const watermarkSQL = `SELECT watermark FROM poll_watermarks WHERE model_id = $1`

// Watermark returns the poll watermark of a model, or ErrNotFound when the
// model has never been polled to the end.
func (db *DB) Watermark(ctx context.Context, modelID string) (time.Time, error) {
	var t time.Time
	err := db.pool.QueryRow(ctx, watermarkSQL, modelID).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read watermark of model %s: %w", modelID, err)
	}
	return t.UTC(), nil
}

const advanceWatermarkSQL = `
INSERT INTO poll_watermarks AS w (model_id, watermark) VALUES ($1, $2)
ON CONFLICT (model_id) DO UPDATE SET
    watermark  = GREATEST(w.watermark, EXCLUDED.watermark),
    updated_at = CASE WHEN EXCLUDED.watermark > w.watermark THEN now() ELSE w.updated_at END,
    polled_at  = now()
RETURNING watermark`

// AdvanceWatermark records a completed poll of a model: the watermark moves
// to t unless it is already later (it never moves back). It returns the
// watermark now stored.
func (db *DB) AdvanceWatermark(ctx context.Context, modelID string, t time.Time) (time.Time, error) {
	var got time.Time
	if err := db.pool.QueryRow(ctx, advanceWatermarkSQL, modelID, t).Scan(&got); err != nil {
		return time.Time{}, fmt.Errorf("advance watermark of model %s: %w", modelID, err)
	}
	return got.UTC(), nil
}
