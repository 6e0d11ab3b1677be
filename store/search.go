package store

import (
	"context"
	"fmt"
)

// The full-text index of transcript lines. It is optional because every
// transcript line written updates it: see deploy/docs/bi.md for its cost.
const (
	createSearchIndexSQL = `CREATE INDEX CONCURRENTLY IF NOT EXISTS transcript_lines_search_idx
    ON transcript_lines USING gin (to_tsvector('simple', text))`
	dropSearchIndexSQL  = `DROP INDEX CONCURRENTLY IF EXISTS transcript_lines_search_idx`
	searchIndexValidSQL = `
SELECT coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('transcript_lines_search_idx')), false)`
	invalidSearchIndexSQL = `
SELECT to_regclass('transcript_lines_search_idx') IS NOT NULL`
)

// SetTranscriptSearch creates (on) or drops (off) the GIN index that makes
// transcript_search fast, without blocking writers (CONCURRENTLY). An index
// left invalid by an interrupted creation is dropped and built again. It
// returns the database's error.
func (db *DB) SetTranscriptSearch(ctx context.Context, on bool) error {
	if on {
		valid, err := db.TranscriptSearch(ctx)
		if err != nil {
			return err
		}
		if valid {
			return nil
		}
		var exists bool
		if err := db.pool.QueryRow(ctx, invalidSearchIndexSQL).Scan(&exists); err != nil {
			return fmt.Errorf("find transcript search index: %w", err)
		}
		if exists { // left invalid by an interrupted build
			if _, err := db.pool.Exec(ctx, dropSearchIndexSQL); err != nil {
				return fmt.Errorf("drop invalid transcript search index: %w", err)
			}
		}
		// The build reads every line: it may take longer than the pool's
		// statement timeout, so it runs on a connection of its own without
		// one (the connection is closed after, not returned to the pool).
		conn, err := db.pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("create transcript search index: %w", err)
		}
		own := conn.Hijack()
		defer own.Close(context.WithoutCancel(ctx))
		if _, err := own.Exec(ctx, `SET statement_timeout = 0`); err != nil {
			return fmt.Errorf("create transcript search index: %w", err)
		}
		if _, err := own.Exec(ctx, createSearchIndexSQL); err != nil {
			return fmt.Errorf("create transcript search index: %w", err)
		}
		return nil
	}
	if _, err := db.pool.Exec(ctx, dropSearchIndexSQL); err != nil {
		return fmt.Errorf("drop transcript search index: %w", err)
	}
	return nil
}

// TranscriptSearch reports whether the transcript search index exists and
// is valid.
func (db *DB) TranscriptSearch(ctx context.Context) (bool, error) {
	var valid bool
	if err := db.pool.QueryRow(ctx, searchIndexValidSQL).Scan(&valid); err != nil {
		return false, fmt.Errorf("check transcript search index: %w", err)
	}
	return valid, nil
}
