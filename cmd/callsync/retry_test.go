package main

import (
	"strings"
	"testing"

	"github.com/callsync/callsync/store/storetest"
)

func TestRetryFailed(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	r := runCmd(t, env, "", "retry-failed", "--error-like", "503", "--since", "1h")
	if r.err != nil || !strings.Contains(r.stdout, "queued 0 failed calls again") {
		t.Fatalf("retry-failed: %v %q", r.err, r.stdout)
	}
	if r := runCmd(t, env, "", "retry-failed", "--since", "-1h"); r.err == nil {
		t.Error("a negative --since was accepted")
	}
	if r := runCmd(t, env, "", "retry-failed", "extra"); r.err == nil {
		t.Error("an unexpected argument was accepted")
	}
}
