package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/migrations"
	"github.com/callsync/callsync/store"
)

// templatePrefix starts the name of every template database; the rest is a
// hash of the migrations, so a changed migration never reuses a stale one.
const templatePrefix = "callsync_tmpl_"

// maxIdentifier is PostgreSQL's NAMEDATALEN-1: longer names are truncated.
const maxIdentifier = 63

// migrationsHash returns the hex SHA-256 of every file in migrations.FS,
// names and contents.
func migrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ensureTemplate returns the name of a database migrated to the current
// migrations, creating it once per server and migration set. Concurrent test
// binaries take turns on an advisory lock; the template is built under
// another name and renamed when complete, so a binary killed mid-build never
// leaves a half-migrated template behind.
func ensureTemplate(ctx context.Context, adminURL string) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := templatePrefix + sum[:16]
	build := name + "_build"

	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to create template: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) // also releases the lock
	raw, _ := hex.DecodeString(sum[:16])         // sum is hex
	key := int64(binary.BigEndian.Uint64(raw))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return "", fmt.Errorf("lock template %s: %w", name, err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up template %s: %w", name, err)
	}
	if exists {
		return name, nil
	}

	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + quote(build) + " WITH (FORCE)", // left by a killed run
		"CREATE DATABASE " + quote(build) + " TEMPLATE template0",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("create template %s: %w", name, err)
		}
	}
	if err := migrate(ctx, withDatabase(adminURL, build)); err != nil {
		return "", fmt.Errorf("create template %s: %w", name, err)
	}
	for _, sql := range []string{
		// Nobody may connect: CREATE DATABASE … TEMPLATE fails while anyone is.
		"ALTER DATABASE " + quote(build) + " WITH ALLOW_CONNECTIONS false",
		"ALTER DATABASE " + quote(build) + " RENAME TO " + quote(name),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return "", fmt.Errorf("create template %s: %w", name, err)
		}
	}
	return name, nil
}

// migrate applies the migrations to the database at dbURL.
func migrate(ctx context.Context, dbURL string) error {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close() // before the rename, which needs the database unused
	return store.New(pool).Migrate(ctx, slog.New(slog.DiscardHandler))
}

// databaseName returns a new database name for the test called testName:
// the name lowercased, each run of other characters than [a-z0-9] made one
// underscore, cut so that with a random suffix it fits in 63 bytes.
func databaseName(testName string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	suffix := "_" + rand.Text()[:10] // 50 random bits
	base := strings.Trim(b.String(), "_")
	if base == "" {
		base = "test"
	}
	if len(base) > maxIdentifier-len(suffix) {
		base = base[:maxIdentifier-len(suffix)]
	}
	return strings.ToLower(base + suffix)
}

// withDatabase returns connURL with its database replaced by dbname. It
// accepts both URLs and keyword/value connection strings.
func withDatabase(connURL, dbname string) string {
	if !strings.Contains(connURL, "://") {
		return connURL + " dbname=" + dbname // a later keyword wins; dbname is [a-z0-9_]
	}
	u, err := url.Parse(connURL)
	if err != nil {
		return connURL // discovery has connected with it, so it parses
	}
	q := u.Query()
	q.Del("dbname")
	q.Del("database")
	u.RawQuery = q.Encode()
	u.Path = "/" + dbname
	u.RawPath = ""
	return u.String()
}

// quote quotes an identifier for SQL.
func quote(name string) string { return pgx.Identifier{name}.Sanitize() }
