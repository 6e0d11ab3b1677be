package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// exists reports whether the relation name exists in the database of pool.
func exists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// databaseExists reports whether the server the tests use has database name.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), storetest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	var ok bool
	if err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// dbName returns the database a pool is on.
func dbName(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var name string
	if err := pool.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestPool_Isolated(t *testing.T) {
	t.Parallel()
	a, b := storetest.Pool(t), storetest.Pool(t)
	if dbName(t, a) == dbName(t, b) {
		t.Fatalf("two Pool calls share database %s", dbName(t, a))
	}
	for _, p := range []*pgxpool.Pool{a, b} {
		if !exists(t, p, "calls") || !exists(t, p, "sync_queue") {
			t.Errorf("database %s is not migrated", dbName(t, p))
		}
	}
	if _, err := a.Exec(t.Context(), "CREATE TABLE only_in_a (n int)"); err != nil {
		t.Fatal(err)
	}
	if !exists(t, a, "only_in_a") {
		t.Error("table missing in the database that created it")
	}
	if exists(t, b, "only_in_a") {
		t.Error("table created in one database is visible in another")
	}
}

func TestNewDatabase_DroppedAtCleanup(t *testing.T) {
	var name string
	t.Run("Use", func(t *testing.T) {
		pool := storetest.Pool(t)
		name = dbName(t, pool)
		// A connection left open must not stop the drop.
		conn, err := pgx.Connect(t.Context(), storetest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn // deliberately never closed
	})
	if databaseExists(t, name) {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestNewDatabase_Parallel(t *testing.T) {
	t.Parallel()
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			pool := storetest.Pool(t)
			if _, err := pool.Exec(t.Context(), "INSERT INTO sync_queue (call_id) VALUES ($1)", "call-1"); err != nil {
				t.Fatal(err) // the same key in every database: they do not collide
			}
		})
	}
}

func TestNewEmptyDatabase(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(t.Context(), storetest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if exists(t, pool, "calls") {
		t.Error("NewEmptyDatabase returned a migrated database")
	}
}

func TestDatabaseName(t *testing.T) {
	long := "TestSomething/" + strings.Repeat("VeryLongSubtestName_", 10)
	a, b := storetest.DatabaseName(long), storetest.DatabaseName(long)
	if a == b {
		t.Errorf("DatabaseName twice = %q both times, want unique names", a)
	}
	if len(a) > 63 {
		t.Errorf("len(DatabaseName) = %d, want <= 63", len(a))
	}
	if !strings.HasPrefix(a, "testsomething_verylongsubtestname_") || strings.ToLower(a) != a {
		t.Errorf("DatabaseName = %q, want the test name lowercased with _ separators", a)
	}
	if got := storetest.DatabaseName("Test/#weird  name!"); !strings.HasPrefix(got, "test_weird_name_") {
		t.Errorf("DatabaseName = %q, want prefix test_weird_name_", got)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5/postgres?sslmode=disable":     "postgres://u:p@h:5/x?sslmode=disable",
		"postgres://u@/postgres?host=%2Ftmp&dbname=other": "postgres://u@/x?host=%2Ftmp",
		"host=h user=u dbname=postgres":                   "host=h user=u dbname=postgres dbname=x",
	} {
		if got := storetest.WithDatabase(in, "x"); got != want {
			t.Errorf("WithDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}

// noStart fails the test if discovery tries to start a throwaway server.
func noStart(t *testing.T) func(context.Context) (*pgserver.Server, error) {
	return func(context.Context) (*pgserver.Server, error) {
		t.Error("discovery started a throwaway server")
		return nil, errors.New("no")
	}
}

// unreachable is a URL with nothing behind it: port 1 refuses at once.
const unreachable = "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1"

func TestDiscover_EnvOverride(t *testing.T) {
	t.Parallel()
	want := storetest.AdminURL(t) // a server known to work
	getenv := func(k string) string {
		if k == "TEST_DATABASE_URL" {
			return want
		}
		return ""
	}
	source, got, err := storetest.Discover(t, t.Context(), getenv, []string{unreachable}, noStart(t))
	if err != nil {
		t.Fatal(err)
	}
	if source != "TEST_DATABASE_URL" || got != want {
		t.Errorf("Discover = %q, %q; want TEST_DATABASE_URL, %q", source, got, want)
	}
}

func TestDiscover_EnvUnreachableFails(t *testing.T) {
	t.Parallel()
	getenv := func(string) string { return unreachable }
	// A set TEST_DATABASE_URL is never silently replaced by another server.
	_, _, err := storetest.Discover(t, t.Context(), getenv, storetest.DefaultLocalURLs, noStart(t))
	if err == nil {
		t.Fatal("Discover with an unreachable TEST_DATABASE_URL succeeded")
	}
	for _, want := range []string{"TEST_DATABASE_URL is set but unusable", "127.0.0.1", "apt-get install postgresql"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestDiscover_NoServerFails(t *testing.T) {
	t.Parallel()
	getenv := func(string) string { return "" }
	start := func(context.Context) (*pgserver.Server, error) {
		return nil, fmt.Errorf("%w in /nowhere", pgserver.ErrNotInstalled)
	}
	_, _, err := storetest.Discover(t, t.Context(), getenv, []string{unreachable}, start)
	if err == nil {
		t.Fatal("Discover with no server succeeded")
	}
	t.Logf("the message a developer without a server sees:\n%v", err)
	for _, want := range []string{"no PostgreSQL server for tests", "127.0.0.1:1", "binaries (initdb, postgres) not found",
		"set TEST_DATABASE_URL", "apt-get install postgresql"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestDiscover_LocalServer(t *testing.T) {
	t.Parallel()
	local := storetest.AdminURL(t)
	source, got, err := storetest.Discover(t, t.Context(), func(string) string { return "" },
		[]string{unreachable, local}, noStart(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(source, "local server") || got != local {
		t.Errorf("Discover = %q, %q; want a local server at %q", source, got, local)
	}
}

func TestDiscover_Throwaway(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	start := func(ctx context.Context) (*pgserver.Server, error) {
		return pgserver.Start(ctx, pgserver.Options{Fast: true})
	}
	source, adminURL, err := storetest.Discover(t, t.Context(), func(string) string { return "" },
		[]string{unreachable}, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("throwaway server ready in %v", time.Since(begin).Round(time.Millisecond))
	if !strings.HasPrefix(source, "throwaway server") {
		t.Errorf("source = %q, want a throwaway server", source)
	}
	conn, err := pgx.Connect(t.Context(), adminURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(t.Context())
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	pool := storetest.Pool(t)
	_, err := pool.Exec(t.Context(), `CREATE TABLE s (id int, note text, at timestamptz DEFAULT now());
		INSERT INTO s (id, note) VALUES (2, 'b'), (1, NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	got := storetest.Snapshot(t, pool, []string{"s"}, "at")
	want := map[string][]string{"s": {`{"id": 1, "note": null}`, `{"id": 2, "note": "b"}`}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
	if n := len(storetest.Snapshot(t, pool, []string{"s"})["s"][0]); n < 30 {
		t.Errorf("Snapshot without ignore lost columns: row of %d bytes", n)
	}
}

func TestDataTables_CoverSchema(t *testing.T) {
	t.Parallel()
	pool := storetest.Pool(t)
	rows, err := pool.Query(t.Context(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public'
		AND tablename NOT IN ('sync_queue', 'goose_db_version', 'backfill_checkpoints', 'poll_watermarks', 'sync_runs', 'api_limits', 'api_requests', 'agents', 'recordings')
		-- Privacy bookkeeping, not synced data.
		AND tablename NOT IN ('erased_calls', 'erased_numbers', 'erasures', 'pseudonym_key', 'role_grants', 'shared_variables')
		-- Derived from the tables above: the daily rollups and their dirty keys.
		AND tablename NOT IN ('rollup_dirty', 'daily_call_stats_rollup', 'daily_action_outcomes_rollup',
		                      'daily_judgement_results_rollup') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(storetest.DataTables))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tables besides sync_queue differ from DataTables; update it (-DataTables +schema):\n%s", diff)
	}
}
