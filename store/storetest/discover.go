package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/store/pgserver"
)

// envURL names the environment variable that points the tests at a server.
const envURL = "TEST_DATABASE_URL"

// howToProvide ends every discovery error.
const howToProvide = `To run these tests, either:
  - set TEST_DATABASE_URL to a database on a PostgreSQL 13+ server whose user may create databases,
    e.g. TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'; or
  - run such a server at 127.0.0.1:5432 or /var/run/postgresql, user postgres without a password; or
  - install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql;
    macOS: brew install postgresql), and the tests start a throwaway server themselves.`

// probeTimeout bounds each connection attempt during discovery, so that a
// firewalled address does not stall the tests.
const probeTimeout = 2 * time.Second

// defaultLocalURLs are the local servers tried when TEST_DATABASE_URL is
// unset: the usual TCP port, then the Debian/Ubuntu unix socket directory.
var defaultLocalURLs = []string{
	"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
	"postgres://postgres@/postgres?host=/var/run/postgresql",
}

// server is the PostgreSQL server the tests use.
type server struct {
	source   string           // where it came from, for logs
	adminURL string           // the maintenance database, where databases are created
	pg       *pgserver.Server // the throwaway server, if discovery started one
}

// discoverer finds a server. Its fields are seams for tests.
type discoverer struct {
	getenv    func(string) string
	localURLs []string
	start     func(context.Context) (*pgserver.Server, error)
}

// startThrowaway starts a throwaway server tuned for tests.
func startThrowaway(ctx context.Context) (*pgserver.Server, error) {
	return pgserver.Start(ctx, pgserver.Options{Fast: true})
}

// discover returns the server named by TEST_DATABASE_URL, which must work
// when set; else the first local server that accepts us; else a throwaway
// server it starts. The error says what was tried and how to provide one.
func (d discoverer) discover(ctx context.Context) (*server, error) {
	if u := d.getenv(envURL); u != "" {
		if err := probe(ctx, u); err != nil {
			return nil, fmt.Errorf("storetest: %s is set but unusable: %w\n%s", envURL, err, howToProvide)
		}
		return &server{source: envURL, adminURL: u}, nil
	}
	var tried []string
	for _, u := range d.localURLs {
		err := probe(ctx, u)
		if err == nil {
			return &server{source: "local server " + describe(u), adminURL: u}, nil
		}
		tried = append(tried, fmt.Sprintf("local server %s: %v", describe(u), err))
	}
	pg, err := d.start(ctx)
	if err != nil {
		tried = append(tried, fmt.Sprintf("throwaway server: %v", err))
		return nil, fmt.Errorf("storetest: no PostgreSQL server for tests (%s unset); tried:\n  - %s\n%s",
			envURL, strings.Join(tried, "\n  - "), howToProvide)
	}
	return &server{source: "throwaway server " + pg.Dir(), adminURL: pg.URL("postgres"), pg: pg}, nil
}

// probe checks that the server at connURL accepts a connection, is
// PostgreSQL 13 or newer (for DROP DATABASE … WITH (FORCE)) and lets the
// user create databases.
func probe(ctx context.Context, connURL string) error {
	cfg, err := pgx.ParseConfig(connURL)
	if err != nil {
		return err
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > probeTimeout {
		cfg.ConnectTimeout = probeTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version int
	var canCreate bool
	err = conn.QueryRow(ctx, `
SELECT current_setting('server_version_num')::int, rolcreatedb OR rolsuper
FROM   pg_roles
WHERE  rolname = current_user`).Scan(&version, &canCreate)
	if err != nil {
		return fmt.Errorf("check server: %w", err)
	}
	if version < 130000 {
		return fmt.Errorf("server version %d is older than PostgreSQL 13", version)
	}
	if !canCreate {
		return errors.New("user " + cfg.User + " may not create databases (needs CREATEDB)")
	}
	return nil
}

// describe names the host of a connection URL without its credentials.
func describe(connURL string) string {
	cfg, err := pgx.ParseConfig(connURL)
	if err != nil {
		return "(unparsable URL)"
	}
	if strings.HasPrefix(cfg.Host, "/") {
		return cfg.Host
	}
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}
