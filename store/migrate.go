package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/callsync/callsync/migrations"
)

// MigrationStatus is the state of one migration file.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

// newProvider returns a goose provider over the embedded migrations that
// takes a Postgres session lock, so replicas starting together migrate one at
// a time, and a func that closes it (and the *sql.DB it runs on, which does
// not close pool): call it when done.
func newProvider(pool *pgxpool.Pool, logger *slog.Logger) (*goose.Provider, func(), error) {
	db := stdlib.OpenDBFromPool(pool) // closing db does not close pool
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		_ = db.Close() // returns its idle connections to pool; nothing to report
		return nil, nil, fmt.Errorf("create migration lock: %w", err)
	}
	// A database migrated by a build that had a later migration but not an
	// earlier one (branches merged in another order than numbered) gets the
	// earlier one applied now, instead of refusing to upgrade. Migrations
	// are written so that each applies on top of any later one (see
	// migrations/README.md).
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, opts...)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, func() { _ = p.Close() }, nil
}

// Migrate applies every pending migration to db's database. It is safe to
// call from several processes at once: they take turns on a Postgres
// advisory lock. It returns an error when a migration fails.
func (db *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	return migrate(ctx, db.pool, logger)
}

// MigrateDown rolls back the newest applied migration. With all set, it
// rolls back every migration, dropping callsync's tables and their data.
// It returns an error when a migration fails.
func (db *DB) MigrateDown(ctx context.Context, logger *slog.Logger, all bool) error {
	return migrateDown(ctx, db.pool, logger, all)
}

// Migrations reports every embedded migration and whether it is applied to
// db's database, or the database's error.
func (db *DB) Migrations(ctx context.Context) ([]MigrationStatus, error) {
	return migrationStatus(ctx, db.pool)
}

// migrate is DB.Migrate on a pool.
func migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	p, closeFn, err := newProvider(pool, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// migrateDown is DB.MigrateDown on a pool.
func migrateDown(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, all bool) error {
	p, closeFn, err := newProvider(pool, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	if all {
		_, err = p.DownTo(ctx, 0)
	} else {
		_, err = p.Down(ctx)
	}
	if err != nil {
		return fmt.Errorf("roll back migrations: %w", err)
	}
	return nil
}

// migrationStatus is DB.Migrations on a pool.
func migrationStatus(ctx context.Context, pool *pgxpool.Pool) ([]MigrationStatus, error) {
	p, closeFn, err := newProvider(pool, nil)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{
			Version: s.Source.Version,
			Name:    s.Source.Path,
			Applied: s.State == goose.StateApplied,
		})
	}
	return out, nil
}

// migrationsCurrent reports whether every embedded migration is applied.
func migrationsCurrent(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	p, closeFn, err := newProvider(pool, nil)
	if err != nil {
		return false, err
	}
	defer closeFn()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	return !pending, nil
}
