package store_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/callsync/callsync/migrations"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// releasedState is a database as an earlier build of main left it: the
// migration files that build carried, applied in the order given. Files
// named in old were edited after they were released; their released text
// is kept in testdata/released as NNNNN_name.<blob>.sql.
type releasedState struct {
	name     string
	versions []int          // applied in this order; the others were not in that build yet
	old      map[int]string // version → testdata/released file holding its released text
}

// releasedStates are the states main's history can have left a database
// in that differ from a fresh migration: a database migrated at every
// commit of main has the first text of every file, and 00016 reached main
// (71380eb) before 00014 (7d72534) and 00015 (e57557c).
var releasedStates = []releasedState{
	{
		name:     "FirstReleaseOfEveryFile",
		versions: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16},
		old: map[int]string{
			1:  "00001_create_calls.14fdb90.sql",
			2:  "00002_create_sync_queue.d54e573.sql",
			3:  "00003_create_api_limits.0f04ac4.sql",
			8:  "00008_create_agents_actions_judgements.23a222a.sql",
			13: "00013_notify_due_queue_rows.b19d1b6.sql",
			16: "00016_child_rows_kept_by_the_store.d202d03.sql",
		},
	},
	{
		name:     "ChildTriggersTruncating",
		versions: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16},
		old:      map[int]string{16: "00016_child_rows_kept_by_the_store.93ecd1d.sql"},
	},
	{
		name:     "ChildTriggersWithoutRollups",
		versions: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16},
		old:      map[int]string{16: "00016_child_rows_kept_by_the_store.2cfc2d8.sql"},
	},
}

// TestMigrate_FromEveryReleasedState builds each state a released build can
// have left a database in, upgrades it with Migrate, and checks that the
// schema is then the one a fresh database gets, object by object, and that
// the triggers the edited migrations added work.
func TestMigrate_FromEveryReleasedState(t *testing.T) {
	fresh := schemaOf(t, storetest.Pool(t))
	current := currentMigrations(t)
	for _, st := range releasedStates {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			pool := openPool(t, storetest.NewEmptyDatabase(t))
			files := fstest.MapFS{}
			for _, v := range st.versions {
				name, text := current[v].name, current[v].text
				if f, ok := st.old[v]; ok {
					b, err := os.ReadFile(path.Join("testdata", "released", f))
					if err != nil {
						t.Fatal(err)
					}
					text = b
				}
				files[name] = &fstest.MapFile{Data: text}
			}
			applyInOrder(t, pool, files)

			if err := store.New(pool).Migrate(ctx, nil); err != nil {
				t.Fatalf("Migrate from %s: %v", st.name, err)
			}
			if diff := cmp.Diff(fresh, schemaOf(t, pool)); diff != "" {
				t.Errorf("schema after upgrading from %s differs from a fresh one (-fresh +upgraded):\n%s", st.name, diff)
			}
			checkChildTriggers(t, pool)
		})
	}
}

type migrationFile struct {
	name string
	text []byte
}

// currentMigrations returns the embedded migrations by version.
func currentMigrations(t *testing.T) map[int]migrationFile {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]migrationFile{}
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		out[int(v)] = migrationFile{name, b}
	}
	return out
}

func openPool(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// applyInOrder applies files one by one in the order of their versions,
// as the builds that carried them did.
func applyInOrder(t *testing.T, pool *pgxpool.Pool, files fstest.MapFS) {
	t.Helper()
	db := stdlib.OpenDBFromPool(pool)
	defer func() { _ = db.Close() }()
	p, err := goose.NewProvider(goose.DialectPostgres, db, files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatalf("apply released migrations: %v", err)
	}
}

// checkChildTriggers checks that deleting and truncating calls reach the
// child tables and the rollups, as 00016's final text has them do.
func checkChildTriggers(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := t.Context()
	for _, q := range []string{
		`INSERT INTO calls (call_id, model_id, started_at, raw) VALUES ('c1', 'm', '2026-01-02T03:00:00Z', '{}'), ('c2', 'm', '2026-01-03T03:00:00Z', '{}')`,
		`INSERT INTO transcript_lines (call_id, line_no, speaker, text) VALUES ('c1', 1, 'bot', 'hi'), ('c2', 1, 'bot', 'hi')`,
		`DELETE FROM calls WHERE call_id = 'c1'`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var lines, dirty int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM transcript_lines WHERE call_id = 'c1'),
	       (SELECT count(*) FROM rollup_dirty WHERE day = '2026-01-02')`).Scan(&lines, &dirty); err != nil {
		t.Fatal(err)
	}
	if lines != 0 || dirty == 0 {
		t.Errorf("after DELETE of a call: %d transcript lines left, %d rollup keys marked; want 0 and at least 1", lines, dirty)
	}
	if _, err := pool.Exec(ctx, `TRUNCATE calls`); err != nil {
		t.Fatalf("TRUNCATE calls: %v", err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM transcript_lines`).Scan(&lines); err != nil {
		t.Fatal(err)
	}
	if lines != 0 {
		t.Errorf("after TRUNCATE calls: %d transcript lines left, want 0", lines)
	}
}

// schemaQueries describe every object of the public schema that a
// migration defines, one line each, by name rather than by position.
var schemaQueries = []string{
	// Columns, by name: a column added later to an old table comes last.
	`SELECT format('column %s.%s %s notnull=%s default=%s acl=%s comment=%s', c.relname, a.attname,
	        format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attacl,
	        col_description(c.oid, a.attnum))
	 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	 WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'p')`,
	`SELECT format('relation %s kind=%s options=%s acl=%s comment=%s', c.relname, c.relkind, c.reloptions, c.relacl,
	        obj_description(c.oid, 'pg_class'))
	 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', 'S')`,
	`SELECT format('index %s', pg_get_indexdef(i.indexrelid))
	 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'public'`,
	`SELECT format('constraint %s.%s %s', r.relname, co.conname, pg_get_constraintdef(co.oid))
	 FROM pg_constraint co JOIN pg_class r ON r.oid = co.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
	 WHERE n.nspname = 'public'`,
	`SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid))
	 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')`,
	`SELECT format('function %s acl=%s comment=%s %s', p.oid::regprocedure, p.proacl, obj_description(p.oid, 'pg_proc'),
	        pg_get_functiondef(p.oid))
	 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'`,
	`SELECT format('trigger %s comment=%s', pg_get_triggerdef(tg.oid), obj_description(tg.oid, 'pg_trigger'))
	 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = 'public' AND NOT tg.tgisinternal`,
}

// schemaOf returns the lines of schemaQueries for pool's database, sorted.
func schemaOf(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	var out []string
	for _, q := range schemaQueries {
		rows, err := pool.Query(t.Context(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var s sql.NullString
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.TrimSpace(s.String))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(out)
	return out
}
