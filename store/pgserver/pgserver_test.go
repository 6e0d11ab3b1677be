//go:build unix

package pgserver_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/store/pgserver"
)

// mustStart starts a server and closes it when the test ends.
func mustStart(t *testing.T, opts pgserver.Options) *pgserver.Server {
	t.Helper()
	begin := time.Now()
	srv, err := pgserver.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server started in %v (fast=%v)", time.Since(begin).Round(time.Millisecond), opts.Fast)
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// mustConnect connects to dbname on srv until the test ends.
func mustConnect(t *testing.T, srv *pgserver.Server, dbname string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), srv.URL(dbname))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.WithoutCancel(t.Context())) })
	return conn
}

// setting returns the value of a server setting.
func setting(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// alive reports whether any process of the group led by pid is left.
func alive(pid int) bool {
	return syscall.Kill(-pid, 0) == nil || syscall.Kill(pid, 0) == nil
}

func TestServer_Lifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := mustStart(t, pgserver.Options{Fast: true})

	if got, want := srv.URL("my db"), fmt.Sprintf("postgres://postgres@127.0.0.1:%d/my%%20db?sslmode=disable", srv.Port()); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	conn := mustConnect(t, srv, "postgres")
	for name, want := range map[string]string{
		"fsync": "off", "synchronous_commit": "off", "listen_addresses": "127.0.0.1",
		"server_encoding": "UTF8", "lc_collate": "C", "data_directory": filepath.Join(srv.Dir(), "data"),
	} {
		if got := setting(t, conn, name); got != want {
			t.Errorf("setting %s = %q, want %q", name, got, want)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(srv.LogPath()); err != nil {
		t.Errorf("server log: %v", err)
	}

	// Restart: same port and data; the old connection is cut.
	oldPID, port := srv.PID(), srv.Port()
	begin := time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %v", time.Since(begin).Round(time.Millisecond))
	if alive(oldPID) {
		t.Errorf("old postmaster %d still running after Restart", oldPID)
	}
	if got := srv.Port(); got != port {
		t.Errorf("Port after Restart = %d, want %d", got, port)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("connection from before Restart still works")
	}
	var n int
	if err := mustConnect(t, srv, "postgres").QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 42 {
		t.Errorf("n = %d after Restart, want 42", n)
	}

	// Stop keeps the data; Restart brings the server back.
	pid := srv.PID()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.PID(); got != 0 {
		t.Errorf("PID after Stop = %d, want 0", got)
	}
	if alive(pid) {
		t.Errorf("postmaster %d still running after Stop", pid)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	// Close stops the server and removes everything.
	pid = srv.PID()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("postmaster %d still running after Close", pid)
	}
	if _, err := os.Stat(srv.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server directory after Close: %v, want it gone", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := srv.Restart(ctx); !errors.Is(err, pgserver.ErrClosed) {
		t.Errorf("Restart after Close = %v, want ErrClosed", err)
	}
}

func TestStart_ProductionLikeByDefault(t *testing.T) {
	t.Parallel()
	srv := mustStart(t, pgserver.Options{})
	conn := mustConnect(t, srv, "postgres")
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		if got := setting(t, conn, name); got != "on" {
			t.Errorf("setting %s = %q, want on", name, got)
		}
	}
	if got := setting(t, conn, "unix_socket_directories"); got != srv.Dir() {
		t.Errorf("unix_socket_directories = %q, want %q", got, srv.Dir())
	}
}

func TestStart_NotInstalled(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	_, err := pgserver.Start(t.Context(), pgserver.Options{BinDir: t.TempDir(), TempDir: parent})
	if !errors.Is(err, pgserver.ErrNotInstalled) {
		t.Fatalf("Start with empty BinDir = %v, want ErrNotInstalled", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("Start left %d entries in TempDir after failing", len(entries))
	}
}

func TestFindBinDir(t *testing.T) {
	dir, err := pgserver.FindBinDir()
	if err != nil {
		t.Fatal(err) // the test machine must have PostgreSQL installed
	}
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("FindBinDir = %s: %v", dir, err)
		}
	}

	t.Setenv("PATH", t.TempDir())
	dir, err = pgserver.FindBinDir()
	if err == nil {
		// Not on PATH, so found in a usual install location.
		if !strings.HasPrefix(dir, "/") {
			t.Errorf("FindBinDir without PATH = %q, want an absolute path", dir)
		}
		return
	}
	if !errors.Is(err, pgserver.ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("FindBinDir error = %v, want ErrNotInstalled with install hint", err)
	}
}

// A copy made by CreateDatabaseFrom has its template's schema and its
// per-database settings, which CREATE DATABASE alone does not copy.
func TestCreateDatabaseFrom(t *testing.T) {
	srv := mustStart(t, pgserver.Options{})
	ctx := t.Context()
	admin := srv.URL("postgres")
	if err := pgserver.CreateDatabase(ctx, admin, "tmpl"); err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, srv, "tmpl")
	if _, err := conn.Exec(ctx, `CREATE TABLE t (x int); ALTER DATABASE tmpl SET jit = off; ALTER DATABASE tmpl SET search_path = 'a''b', public`); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pgserver.CreateDatabaseFrom(ctx, admin, "copy", "tmpl"); err != nil {
		t.Fatal(err)
	}
	c := mustConnect(t, srv, "copy")
	if got := setting(t, c, "jit"); got != "off" {
		t.Errorf("jit = %q in the copy, want off", got)
	}
	if got := setting(t, c, "search_path"); got != `"a'b", public` {
		t.Errorf("search_path = %q in the copy", got)
	}
	if _, err := c.Exec(ctx, `SELECT x FROM t`); err != nil {
		t.Errorf("the copy lacks the template's table: %v", err)
	}
	url, err := pgserver.DatabaseURL(admin, "copy")
	if err != nil || !strings.Contains(url, "/copy?") {
		t.Errorf("DatabaseURL = %q, %v", url, err)
	}
	if _, err := pgserver.DatabaseURL("mysql://x/y", "copy"); !errors.Is(err, pgserver.ErrNotPostgresURL) {
		t.Errorf("DatabaseURL of a mysql URL: %v", err)
	}
	if err := pgserver.DropDatabase(ctx, admin, "tmpl"); err != nil {
		t.Fatal(err)
	}
}
