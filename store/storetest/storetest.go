// Package storetest gives each test a PostgreSQL database of its own, fresh
// and migrated, and drops it when the test ends, as net/http/httptest gives
// tests a server.
//
// A package using it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
//
// The server is found once per test binary: the one TEST_DATABASE_URL names
// (its user must be allowed to create databases); else a local server at
// 127.0.0.1:5432 or /var/run/postgresql, as user postgres; else a throwaway
// server started from the installed PostgreSQL binaries (package pgserver)
// and stopped by Main. When there is none, tests fail, never skip, with a
// message saying how to provide one.
//
// The migrations are applied once per server and migration set, to a
// template database named after their hash; each test's database is a copy
// of it (CREATE DATABASE … TEMPLATE), which takes milliseconds.
//
// Tests with a database of their own run in parallel: NewDatabase and Pool
// call Parallel, and Run raises -test.parallel (see minParallel) unless the
// command line sets it.
package storetest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// setupTimeout bounds discovery, a throwaway server's start and the
// template's migration.
const setupTimeout = 2 * time.Minute

// env is what every test of the binary shares.
type env struct {
	srv      *server
	admin    *pgxpool.Pool // on the maintenance database
	template string
	strategy string        // CREATE DATABASE option, see copyStrategy
	took     time.Duration // discovery and template, for the first test's log
}

var (
	mu         sync.Mutex
	mainCalled bool
	shared     *env
	setupErr   error
	setupOnce  sync.Once
)

// Main runs the tests of m and then stops the throwaway server, if one was
// started, and exits. Call it (or Run) from TestMain; NewDatabase and Pool
// fail the tests of a package that does not, so that no server is ever left
// behind.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain with its own cleanup to do: it runs the tests
// of m, stops the throwaway server and returns the exit code instead of
// exiting.
func Run(m *testing.M) int {
	mu.Lock()
	mainCalled = true
	mu.Unlock()
	raiseParallel()
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NewDatabase creates a database for t alone, migrated to the current
// schema, and returns its URL. It makes a top-level test parallel (see
// Parallel). The database is dropped, with any connection
// still open to it, when t ends. It fails t, with a message saying how to
// provide a server, when no server is available.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// NewEmptyDatabase is NewDatabase without the migrations, for tests of
// migrating itself.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

// Pool returns a pool on a new database from NewDatabase, closed when t
// ends. It fails t as NewDatabase does, or when the pool cannot connect.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("storetest: open pool: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the drop, which was registered first
	return pool
}

// newDatabase creates a database, a copy of the template when migrated is
// set or of template0 otherwise.
func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	Parallel(t)
	e := mustEnv(t)
	name := databaseName(t.Name())
	tmpl := "template0"
	if migrated {
		tmpl = e.template
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	begin := time.Now()
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+quote(name)+" TEMPLATE "+quote(tmpl)+e.strategy); err != nil {
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	// Commits need not wait for the WAL to reach the disk: a test's data
	// dies with it anyway, and on a server shared with other work each
	// flush can take milliseconds. What a commit makes visible is the same.
	if _, err := e.admin.Exec(ctx, "ALTER DATABASE "+quote(name)+" SET synchronous_commit = off"); err != nil {
		t.Fatalf("storetest: configure database %s: %v", name, err)
	}
	t.Logf("storetest: database %s on %s (created from %s in %v)",
		name, e.srv.source, tmpl, time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quote(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(e.srv.adminURL, name)
}

// mustEnv returns the shared env, setting it up on first use, or fails t.
func mustEnv(t testing.TB) *env {
	t.Helper()
	mu.Lock()
	called := mainCalled
	mu.Unlock()
	if !called {
		t.Fatal("storetest: call storetest.Main (or storetest.Run) from this package's TestMain, so that " +
			"the test server is stopped when the tests end:\n\n\tfunc TestMain(m *testing.M) { storetest.Main(m) }")
	}
	setupOnce.Do(func() {
		d := discoverer{getenv: os.Getenv, localURLs: defaultLocalURLs, start: startThrowaway}
		e, err := setup(d)
		mu.Lock()
		shared, setupErr = e, err
		mu.Unlock()
		if err == nil {
			t.Logf("storetest: using %s, template %s (ready in %v)", e.srv.source, e.template, e.took.Round(time.Millisecond))
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return shared
}

// setup finds a server and prepares the template. On error it still returns
// the env when a throwaway server was started, so that shutdown stops it.
func setup(d discoverer) (*env, error) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	srv, err := d.discover(ctx)
	if err != nil {
		return nil, err
	}
	e := &env{srv: srv}
	cfg, err := pgxpool.ParseConfig(srv.adminURL)
	if err != nil {
		return e, fmt.Errorf("storetest: parse URL of %s: %w", srv.source, err)
	}
	cfg.MaxConns = minParallel // CREATE and DROP DATABASE only, one per parallel test
	if e.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return e, fmt.Errorf("storetest: connect to %s: %w", srv.source, err)
	}
	if e.strategy, err = copyStrategy(ctx, e.admin); err != nil {
		return e, fmt.Errorf("storetest: on %s: %w", srv.source, err)
	}
	if e.template, err = ensureTemplate(ctx, srv.adminURL); err != nil {
		return e, fmt.Errorf("storetest: on %s: %w", srv.source, err)
	}
	e.took = time.Since(begin)
	return e, nil
}

// copyStrategy returns the CREATE DATABASE option that copies a template
// fastest. PostgreSQL 15's default, WAL_LOG, writes the copy to the WAL,
// which on a new server means first creating WAL segments, for every
// database. FILE_COPY checkpoints twice, which is cheap only with fsync
// off, as on the throwaway server; with fsync on, WAL_LOG is the faster.
func copyStrategy(ctx context.Context, admin *pgxpool.Pool) (string, error) {
	var fileCopy bool
	err := admin.QueryRow(ctx, `SELECT current_setting('server_version_num')::int >= 150000
	AND current_setting('fsync') = 'off'`).Scan(&fileCopy)
	if err != nil {
		return "", fmt.Errorf("check server settings: %w", err)
	}
	if fileCopy {
		return " STRATEGY FILE_COPY", nil
	}
	return "", nil
}

// shutdown closes the admin pool and stops the throwaway server, if any.
func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		return nil
	}
	if shared.admin != nil {
		shared.admin.Close()
	}
	if shared.srv.pg != nil {
		if err := shared.srv.pg.Close(); err != nil {
			return fmt.Errorf("stop throwaway server: %w", err)
		}
	}
	return nil
}
