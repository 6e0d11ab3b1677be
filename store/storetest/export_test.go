package storetest

import (
	"context"
	"testing"

	"github.com/callsync/callsync/store/pgserver"
)

// Exported for the tests in package storetest_test.
var (
	DatabaseName     = databaseName
	WithDatabase     = withDatabase
	DefaultLocalURLs = defaultLocalURLs
)

// Discover runs discovery with the given seams and returns where the server
// came from and its maintenance URL. A throwaway server it starts is closed
// when t ends.
func Discover(t testing.TB, ctx context.Context, getenv func(string) string, localURLs []string,
	start func(context.Context) (*pgserver.Server, error)) (source, adminURL string, err error) {
	t.Helper()
	srv, err := discoverer{getenv: getenv, localURLs: localURLs, start: start}.discover(ctx)
	if err != nil {
		return "", "", err
	}
	if srv.pg != nil {
		t.Cleanup(func() { _ = srv.pg.Close() })
	}
	return srv.source, srv.adminURL, nil
}

// AdminURL returns the maintenance URL of the server the tests use.
func AdminURL(t testing.TB) string {
	t.Helper()
	return mustEnv(t).srv.adminURL
}
