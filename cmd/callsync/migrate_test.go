package main

import (
	"strings"
	"testing"

	"github.com/callsync/callsync/store/storetest"
)

// TestMigrateUp_SaysWhatItDid checks migrate up's output on an empty
// database and on a migrated one.
func TestMigrateUp_SaysWhatItDid(t *testing.T) {
	env := map[string]string{"DATABASE_URL": storetest.NewEmptyDatabase(t), "LOG_LEVEL": "warn"}
	r := runCmd(t, env, "", "migrate", "up")
	if r.err != nil || !strings.Contains(r.stdout, "applied  00001  00001_create_calls.sql") ||
		!strings.Contains(r.stdout, "migrations applied; the database is at version") {
		t.Errorf("migrate up on an empty database: %v\n%s", r.err, r.stdout)
	}
	r = runCmd(t, env, "", "migrate", "up")
	if r.err != nil || !strings.HasPrefix(r.stdout, "nothing to apply: the database is at the latest version") {
		t.Errorf("migrate up again: %v\n%s", r.err, r.stdout)
	}
}
