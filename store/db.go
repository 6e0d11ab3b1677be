// Package store is callsync's PostgreSQL adapter: the schema's row types, the
// queue operations and the writes of normalized calls. All of callsync's SQL
// lives here; the rules that decide what to write live in package sync.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/store/internal/treeonly"
)

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("store: not found")

// DB is the warehouse: the calls tables and the sync queue.
type DB struct {
	pool *pgxpool.Pool
}

// DefaultMaxConns is the pool's size when neither Options.MaxConns nor
// the URL's pool_max_conns sets it. A sync pass holds up to four
// connections at once (two writers, the claim of the next batch and the
// rate limiter's take), run one more for LISTEN, and the webhook's
// intake some besides: pgx's default, 4 on a machine of up to 4 CPUs, made
// the limiter's takes wait for a writer to commit.
const DefaultMaxConns = 8

// Options tunes the connection pool that Open creates.
type Options struct {
	// MaxConns caps the pool; 0 means the URL's pool_max_conns, or
	// DefaultMaxConns.
	MaxConns int32
	// StatementTimeout aborts any statement that runs longer; 0 means 60 s.
	StatementTimeout time.Duration
}

// Open connects to the database at url and checks that it answers. It
// returns an error naming the problem when the URL does not parse or the
// server cannot be reached.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", redactURLError(err))
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(cfg.ConnString(), "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	timeout := opts.StatementTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "callsync"
	}
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(timeout.Milliseconds())
	// callsync's statements run in milliseconds; JIT compiling the ones
	// estimated above jit_above_cost costs more than it saves. A jit
	// parameter in the URL wins.
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s@%s:%d/%s: %w",
			cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return &DB{pool: pool}, nil
}

// New wraps an existing pool. The caller keeps ownership: Close does not close it.
func New(pool *pgxpool.Pool) *DB {
	return &DB{pool: pool}
}

// Close closes the pool opened by Open.
func (db *DB) Close() {
	db.pool.Close()
}

// Pool returns the underlying connection pool, for the store tree's
// packages that run SQL of their own (report, storebench, storetest, which
// hands it to tests that check rows directly). It takes a treeonly.Key,
// which only they can name: other code goes through DB's methods, which
// keep the queue's rules (see State).
func (db *DB) Pool(treeonly.Key) *pgxpool.Pool {
	return db.pool
}

// redactURLError keeps only the text of pgx's parse errors. pgx masks the
// password in that text (best effort: postgres://u:xxxxx@h/d), but the
// *pgconn.ParseConfigError itself holds the connection string unmasked in
// ConnString, where anything that unwraps the error could read it.
func redactURLError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New(pe.Error())
	}
	return err
}

// beginFunc runs fn in a transaction on the pool, committing when fn returns nil.
func (db *DB) beginFunc(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}
