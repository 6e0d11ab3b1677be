package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CreateDatabase creates database name on the server at adminURL (any
// server, not only one Start ran) unless it exists. It returns the server's
// error.
func CreateDatabase(ctx context.Context, adminURL, name string) error {
	return CreateDatabaseFrom(ctx, adminURL, name, "")
}

// CreateDatabaseFrom is CreateDatabase copying database template (none
// connected to it), or the server's default template when template is
// empty. The copy gets the template's own settings too (ALTER DATABASE …
// SET, as migrations make: jit = off), which CREATE DATABASE does not copy,
// so that it behaves as a database migrated in place would.
func CreateDatabaseFrom(ctx context.Context, adminURL, name, template string) error {
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	_, err = pool.Exec(ctx, sql)
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) && pgErr.SQLState() == "42P04" { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if template == "" {
		return nil
	}
	rows, err := pool.Query(ctx, templateSettingsSQL, template)
	if err != nil {
		return fmt.Errorf("settings of database %s: %w", template, err)
	}
	settings, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Value string }])
	if err != nil {
		return fmt.Errorf("settings of database %s: %w", template, err)
	}
	for _, set := range settings {
		// SET takes no parameters: the name is quoted as an identifier, the
		// value as a literal, except a list whose elements the server
		// stores quoted already (as pg_dump does it).
		value := quoteLiteral(set.Value)
		if listQuoted[strings.ToLower(set.Name)] {
			value = set.Value
		}
		alter := fmt.Sprintf("ALTER DATABASE %s SET %s = %s", pgx.Identifier{name}.Sanitize(),
			pgx.Identifier{set.Name}.Sanitize(), value)
		if _, err := pool.Exec(ctx, alter); err != nil {
			return fmt.Errorf("copy setting %s to database %s: %w", set.Name, name, err)
		}
	}
	return nil
}

// templateSettingsSQL lists the settings made for database $1 alone (for
// every role), as name and value.
const templateSettingsSQL = `
SELECT split_part(c, '=', 1), substr(c, strpos(c, '=') + 1)
FROM   pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c
WHERE  d.datname = $1 AND s.setrole = 0`

// listQuoted are the settings whose stored value is a list of quoted
// elements, to be given to SET as it is (PostgreSQL's GUC_LIST_QUOTE).
var listQuoted = map[string]bool{"search_path": true, "temp_tablespaces": true, "session_preload_libraries": true,
	"shared_preload_libraries": true, "local_preload_libraries": true}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// DropDatabase drops database name on the server at adminURL, closing any
// connection still open to it. It returns the server's error.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	pool, err := pgxpool.New(ctx, adminURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// ErrNotPostgresURL is returned by DatabaseURL for a URL that is not a
// postgres:// one.
var ErrNotPostgresURL = errors.New("pgserver: want a postgres:// URL")

// DatabaseURL returns serverURL pointing at database name instead, or
// ErrNotPostgresURL.
func DatabaseURL(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", ErrNotPostgresURL
	}
	u.Path = "/" + name
	return u.String(), nil
}
