package store_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storetest"
)

// update rewrites the generated files the schema tests compare with:
//
//	go test ./store -run TestSchema -update
var update = flag.Bool("update", false, "rewrite store/schema.sql and deploy/docs/columns.md from a freshly migrated database")

const (
	schemaFile  = "schema.sql"
	columnsFile = "../deploy/docs/columns.md"
)

// TestSchema_Dump compares schema.sql, the migrated schema in one file,
// with a dump of a freshly migrated database, so that every change of the
// schema shows in review beside the migration that makes it.
func TestSchema_Dump(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	major := serverMajor(t, dbURL)
	got := normalizeDump(major, pgDump(t, dbURL))
	checkGenerated(t, schemaFile, got, func(want []byte) {
		if m := regexp.MustCompile(`(?m)^-- PostgreSQL (\d+)$`).FindSubmatch(want); m != nil && string(m[1]) != major {
			// pg_dump and pg_get_viewdef print differently from one major
			// version to the next: comparing would report drift that is not.
			t.Skipf("schema.sql was dumped from PostgreSQL %s and this server is %s: compare on PostgreSQL %s, or regenerate it on this one with -update", m[1], major, m[1])
		}
	})
}

// TestSchema_ColumnReference compares deploy/docs/columns.md with the
// COMMENT ON text of every table, view and column of a freshly migrated
// database.
func TestSchema_ColumnReference(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	checkGenerated(t, columnsFile, columnReference(t, dbURL), nil)
}

// checkGenerated compares the file at path with got, or with -update
// writes got there. before, when set, sees the file first.
func checkGenerated(t *testing.T, path string, got []byte, before func(want []byte)) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: generate it with go test ./store -run TestSchema -update", err)
	}
	if before != nil {
		before(want)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from a freshly migrated database:\n%s\nIf the change is intended, regenerate it: go test ./store -run TestSchema -update",
			path, firstDifference(string(want), string(got)))
	}
}

// firstDifference shows the first line where want and got part.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  file:     %q\n  database: %q", i+1, wl, gl)
		}
	}
	return "(same lines; the ends differ)"
}

func serverMajor(t *testing.T, dbURL string) string {
	t.Helper()
	var v string
	queryRow(t, dbURL, `SELECT current_setting('server_version_num')::int / 10000`, &v)
	return v
}

func queryRow(t *testing.T, dbURL, sql string, dest ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	if err := conn.QueryRow(t.Context(), sql).Scan(dest...); err != nil {
		t.Fatal(err)
	}
}

// pgDump returns the schema of the database at dbURL as pg_dump prints it,
// without owners, grants and comments (columns.md holds the comments).
// pg_dump comes from the installed server binaries, else from PATH.
func pgDump(t *testing.T, dbURL string) string {
	t.Helper()
	bin := "pg_dump"
	if dir, err := pgserver.FindBinDir(); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "pg_dump")); err == nil {
			bin = filepath.Join(dir, "pg_dump")
		}
	}
	cmd := exec.CommandContext(t.Context(), bin, "--schema-only", "--no-owner", "--no-privileges", "--no-comments",
		"--exclude-table=public.goose_db_version", "--dbname", dbURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump (%s): %v\n%s\nInstall PostgreSQL's client binaries (pg_dump) of the server's version.", bin, err, stderr.String())
	}
	return string(out)
}

var (
	// dumpNoise is what varies from one dump to the next or says nothing
	// about the schema: the header, session settings, the random key of
	// \restrict (newer pg_dump releases) and the comment lines around each
	// object's name.
	dumpNoise   = regexp.MustCompile(`(?m)^(--|-- PostgreSQL database dump( complete)?|-- Dumped (from|by) .*|SET .*|SELECT pg_catalog\.set_config.*|\\(un)?restrict .*)\n`)
	dumpName    = regexp.MustCompile(`(?m)^-- Name: (.*); Type: (.*); Schema: .*; Owner: .*$`)
	blankLines  = regexp.MustCompile(`\n{3,}`)
	schemaTitle = `-- The schema of a freshly migrated callsync database: pg_dump --schema-only
-- without owners, grants and comments (deploy/docs/columns.md has the
-- comments), normalised. Generated; do not edit. A test compares it with a
-- freshly migrated database; after a new migration, regenerate it:
--
--     go test ./store -run TestSchema -update
--
-- PostgreSQL %s
`
)

// normalizeDump keeps the statements of a pg_dump and one comment line
// naming each object.
func normalizeDump(major, dump string) []byte {
	s := dumpNoise.ReplaceAllString(dump, "")
	s = dumpName.ReplaceAllString(s, "-- $2 $1")
	s = blankLines.ReplaceAllString(strings.TrimSpace(s), "\n\n")
	return []byte(fmt.Sprintf(schemaTitle, major) + "\n" + s + "\n")
}

// columnsSQL lists every table and view of the public schema (goose's own
// table aside) with its comment, and each column with its type and
// comment, tables first, in name order, columns in table order.
const columnsSQL = `
SELECT CASE WHEN c.relkind IN ('r', 'p') THEN 'table' ELSE 'view' END AS kind, c.relname,
       coalesce(obj_description(c.oid, 'pg_class'), ''), a.attname,
       format_type(a.atttypid, a.atttypmod), coalesce(col_description(c.oid, a.attnum), '')
FROM   pg_class c
JOIN   pg_namespace n ON n.oid = c.relnamespace
JOIN   pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE  n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> 'goose_db_version'
ORDER  BY c.relkind IN ('v', 'm'), c.relname, a.attnum`

// columnReference renders columnsSQL as Markdown.
func columnReference(t *testing.T, dbURL string) []byte {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	rows, err := conn.Query(t.Context(), columnsSQL)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`# Column reference

Every table and view of the warehouse with its columns, from the ` + "`COMMENT ON`" + ` text of the
migrations (` + "`\\d+ calls`" + ` in psql shows the same). Generated; do not edit. A test compares it with
a freshly migrated database; after a new migration, regenerate it:

` + "```sh\ngo test ./store -run TestSchema -update\n```\n")
	var kind, lastKind, rel, lastRel, relComment, col, typ, colComment string
	_, err = pgx.ForEachRow(rows, []any{&kind, &rel, &relComment, &col, &typ, &colComment}, func() error {
		if kind != lastKind {
			fmt.Fprintf(&b, "\n## %ss\n", strings.ToUpper(kind[:1])+kind[1:])
			lastKind = kind
		}
		if rel != lastRel {
			fmt.Fprintf(&b, "\n### %s\n\n", rel)
			if relComment != "" {
				fmt.Fprintf(&b, "%s\n\n", oneLine(relComment))
			}
			b.WriteString("| column | type | meaning |\n|---|---|---|\n")
			lastRel = rel
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", col, typ, cell(colComment))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }
