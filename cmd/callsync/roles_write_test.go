package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// publicWider are grants a database can have that PostgreSQL 15 does not
// make by default (a database upgraded from an older version, or an
// administrator's generosity): PUBLIC may create in schema public and in
// another schema, and write a table.
var publicWider = []string{
	`GRANT CREATE ON SCHEMA public TO PUBLIC`,
	`GRANT CREATE ON DATABASE {db} TO PUBLIC`,
	`CREATE SCHEMA scratch`,
	`GRANT USAGE, CREATE ON SCHEMA scratch TO PUBLIC`,
	`GRANT INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON sync_runs TO PUBLIC`,
	`GRANT UPDATE (error) ON sync_runs TO PUBLIC`,
}

// writeCatalogSQL lists, from the catalog, every way role has to change
// something that outlives its session: CREATE on the database or on a
// schema, a write privilege on any table, view or column of any schema,
// EXECUTE on a function that writes large objects or the WAL, an attribute
// or a predefined role that writes, and any function outside the system
// catalogs (callsync's are trigger functions and the pseudonym key).
const writeCatalogSQL = `
SELECT 'CREATE ON DATABASE' WHERE has_database_privilege($1, current_database(), 'CREATE')
UNION ALL
SELECT 'CREATE ON SCHEMA ' || nspname FROM pg_namespace
WHERE  nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%' AND has_schema_privilege($1, oid, 'CREATE')
UNION ALL
SELECT 'write ' || c.oid::regclass::text FROM pg_class c
WHERE  c.relkind IN ('r', 'v', 'm', 'p', 'f') AND c.relpersistence <> 't'
       AND c.oid <> 'pg_settings'::regclass -- UPDATE pg_settings is SET: the session's own
       AND (has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
            OR has_any_column_privilege($1, c.oid, 'INSERT, UPDATE, REFERENCES'))
UNION ALL
SELECT 'EXECUTE ' || p.oid::regprocedure::text FROM pg_proc p
WHERE  has_function_privilege($1, p.oid, 'EXECUTE')
       AND (p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
            OR p.proname ~ '^lo_' OR p.proname IN ('loread', 'lowrite', 'pg_logical_emit_message'))
UNION ALL
SELECT 'attribute of ' || rolname FROM pg_roles
WHERE  rolname = $1 AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls)
UNION ALL
SELECT 'member of ' || rolname FROM pg_roles
WHERE  rolname IN ('pg_write_all_data', 'pg_write_server_files', 'pg_execute_server_program')
       AND pg_has_role($1, oid, 'USAGE')
ORDER  BY 1`

// TestRolesScript_ReadersCannotWrite gives PUBLIC more than PostgreSQL 15
// does, runs the role scripts, and then looks for every persistent write
// left to callsync_reader and callsync_pii_reader: in the catalog, and by
// trying each (large objects, objects in every schema, rows of every
// table and view, the WAL).
func TestRolesScript_ReadersCannotWrite(t *testing.T) {
	rs := testRoles(t, publicWider...)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, rs.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var lo uint32 // a large object the superuser made, for the readers to try to change
	if err := admin.QueryRow(ctx, `SELECT lo_from_bytea(0, 'kept')`).Scan(&lo); err != nil {
		t.Fatal(err)
	}
	var schemas, relations []string
	if err := admin.QueryRow(ctx, `SELECT array_agg(quote_ident(nspname)) FROM pg_namespace
		WHERE nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'`).Scan(&schemas); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow(ctx, `SELECT array_agg(c.oid::regclass::text) FROM pg_class c
		WHERE c.relkind IN ('r', 'v', 'p') AND c.relnamespace IN ('public'::regnamespace, 'scratch'::regnamespace)`).Scan(&relations); err != nil {
		t.Fatal(err)
	}
	countObjects := func() (n int) {
		t.Helper()
		if err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_largeobject_metadata)
			+ (SELECT count(*) FROM pg_class WHERE relpersistence <> 't') + (SELECT count(*) FROM pg_namespace)
			+ (SELECT count(*) FROM pg_proc) + (SELECT count(*) FROM sync_runs)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := countObjects()

	for _, role := range []string{rs.reader, rs.pii} {
		rows, err := admin.Query(ctx, writeCatalogSQL, role)
		if err != nil {
			t.Fatal(err)
		}
		ways, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ways {
			t.Errorf("%s: %s", role, w)
		}

		conn, err := pgx.Connect(ctx, asRole(t, rs.dbURL, role))
		if err != nil {
			t.Fatal(err)
		}
		tries := []string{
			`SELECT lo_from_bytea(0, 'junk')`, `SELECT lo_create(0)`, `SELECT lo_creat(-1)`,
			`SELECT lo_import('/etc/hostname')`, `SELECT lo_put($1, 0, 'junk')`, `SELECT lo_unlink($1)`,
			`SELECT lowrite(lo_open($1, 131072), 'junk')`, `SELECT lo_truncate(lo_open($1, 131072), 0)`,
			`SELECT lo_export($1, '/tmp/callsync-lo')`,
			`SELECT pg_logical_emit_message(true, 'callsync', 'junk')`,
			`CREATE SCHEMA mine`, `CREATE EXTENSION IF NOT EXISTS pgcrypto`,
			`COMMENT ON TABLE calls IS 'junk'`, `CREATE PUBLICATION mine FOR ALL TABLES`,
		}
		for _, s := range schemas {
			tries = append(tries, `CREATE TABLE `+s+`.mine (x int)`, `CREATE VIEW `+s+`.mine AS SELECT 1 AS x`,
				`CREATE FUNCTION `+s+`.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'`)
		}
		for _, rel := range relations {
			tries = append(tries, `INSERT INTO `+rel+` DEFAULT VALUES`, `DELETE FROM `+rel, `TRUNCATE `+rel,
				`CREATE TRIGGER mine AFTER INSERT ON `+rel+` EXECUTE FUNCTION suppress_redundant_updates_trigger()`)
		}
		tries = append(tries, `UPDATE sync_runs SET error = 'junk'`)
		for _, sql := range tries {
			var args []any
			if strings.Contains(sql, "$1") {
				args = []any{lo}
			}
			if _, err := conn.Exec(ctx, sql, args...); err == nil {
				t.Errorf("%s: %s succeeded", role, sql)
			}
		}
		conn.Close(ctx)
	}
	if after := countObjects(); after != before {
		t.Errorf("%d objects (large objects, relations, schemas, functions, sync_runs rows) after the readers tried, %d before", after, before)
	}
	var kept []byte
	if err := admin.QueryRow(ctx, `SELECT lo_get($1)`, lo).Scan(&kept); err != nil || string(kept) != "kept" {
		t.Errorf("large object %d = %q (%v), want it unchanged", lo, kept, err)
	}
}

// TestRolesScript_LargeObjectsNeedASuperuser runs roles-admin.sql as the
// database's owner with CREATEROLE but not superuser, as on a managed
// service: it stops, saying that large objects stay writable, unless told
// to keep them (-v large_objects=keep).
func TestRolesScript_LargeObjectsNeedASuperuser(t *testing.T) {
	rs := testRoles(t)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, rs.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	dbAdmin := rs.owner + "_admin"
	db := pgx.Identifier{dbName(t, admin)}.Sanitize()
	t.Cleanup(func() {
		ctx := context.Background() // t.Context is done by now
		admin, err := pgx.Connect(ctx, rs.dbURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close(ctx)
		for _, sql := range []string{`ALTER DATABASE ` + db + ` OWNER TO CURRENT_USER`,
			`DROP OWNED BY ` + dbAdmin, `DROP ROLE ` + dbAdmin} {
			if _, err := admin.Exec(ctx, sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
	})
	for _, sql := range []string{
		`GRANT EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) TO PUBLIC`, // as before any run
		`CREATE ROLE ` + dbAdmin + ` NOLOGIN CREATEROLE`,
		`ALTER DATABASE ` + db + ` OWNER TO ` + dbAdmin,
		`GRANT ` + rs.reader + `, ` + rs.pii + ` TO ` + dbAdmin + ` WITH ADMIN OPTION`,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	vars := []string{"reader=" + rs.reader, "pii_reader=" + rs.pii}
	out, err := psqlScript(t, asRole(t, rs.dbURL, dbAdmin), rolesAdminScript, vars...)
	if err == nil || !strings.Contains(out, "only a superuser") || !strings.Contains(out, "large_objects=keep") {
		t.Errorf("roles-admin.sql as a non-superuser: %v, output %q; want a failure saying only a superuser can, and how to accept it", err, out)
	}
	out, err = psqlScript(t, asRole(t, rs.dbURL, dbAdmin), rolesAdminScript, append(vars, "large_objects=keep")...)
	if err != nil {
		t.Errorf("roles-admin.sql -v large_objects=keep as a non-superuser: %v\n%s", err, out)
	}
}

func dbName(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(context.Background(), `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}
