package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/callsync/callsync/store/pgserver"
)

// demoDatabase returns the URL of the demo's own database and the cleanup
// that removes it: a throwaway server's, or with dbURL (DATABASE_URL) a
// new database on its server, never the one it names. Progress goes to
// e.stdout, cleanup failures to e.stderr.
func demoDatabase(ctx context.Context, e env, dbURL string) (string, func(), error) {
	out := e.stdout
	if dbURL == "" {
		fmt.Fprintln(out, "• starting a throwaway PostgreSQL from the installed server binaries…")
		srv, err := pgserver.Start(ctx, pgserver.Options{})
		if err != nil {
			return "", nil, fmt.Errorf("demo: %w\nSet DATABASE_URL to use a running server instead", err)
		}
		cleanup := func() {
			if err := srv.Close(); err != nil {
				fmt.Fprintln(e.stderr, "callsync: demo: stop throwaway PostgreSQL:", err)
			}
		}
		if err := pgserver.CreateDatabase(ctx, srv.URL("postgres"), "callsync"); err != nil {
			cleanup()
			return "", nil, err
		}
		fmt.Fprintf(out, "  PostgreSQL at 127.0.0.1:%d in %s (removed on exit)\n", srv.Port(), srv.Dir())
		return srv.URL("callsync"), cleanup, nil
	}
	// Never the database DATABASE_URL names: a new one on its server,
	// dropped at the end.
	name := fmt.Sprintf("callsync_demo_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	adminURL := dbURL
	own, err := pgserver.DatabaseURL(adminURL, name)
	if err != nil {
		return "", nil, usagef("DATABASE_URL: want a postgres:// URL")
	}
	if err := pgserver.CreateDatabase(ctx, adminURL, name); err != nil {
		return "", nil, fmt.Errorf("demo: %w\nThe demo creates a database of its own on DATABASE_URL's server; unset DATABASE_URL to use a throwaway server instead", err)
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := pgserver.DropDatabase(ctx, adminURL, name); err != nil {
			fmt.Fprintln(e.stderr, "callsync: demo:", err)
		}
	}
	fmt.Fprintf(out, "• DATABASE_URL is set: using a new database, %s, on its server (dropped on exit); the database DATABASE_URL names is not touched\n", name)
	return own, cleanup, nil
}
