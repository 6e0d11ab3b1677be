package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// saveRollupCall stores a call of agent m1 on dbURL, which marks its day
// and agent dirty.
func saveRollupCall(t *testing.T, dbURL, id string) {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := store.Call{ID: id, ModelID: new("m1"), Status: new("completed"), StartedAt: &start, Raw: []byte(`{}`)}
	if _, err := store.New(pool).SaveCalls(t.Context(), []store.Call{c}); err != nil {
		t.Fatal(err)
	}
}

func TestRollups_Command(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	saveRollupCall(t, dbURL, "a")
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"rollups", "status"}, "0 row(s) of daily_call_stats, 0 of daily_action_outcomes, 0 of daily_judgement_results; 1 day(s) and agent(s) to fold"},
		{[]string{"rollups", "fold"}, "1 changed day(s) and agent(s) folded"},
		{[]string{"rollups", "status"}, "1 row(s) of daily_call_stats, 0 of daily_action_outcomes, 0 of daily_judgement_results; 0 day(s)"},
		{[]string{"rollups", "rebuild"}, "rebuilt in"},
	} {
		r := runCmd(t, env, "", step.args...)
		if r.err != nil || !strings.Contains(r.stdout, step.want) {
			t.Errorf("%v: err %v, stdout %q, want it to say %q", step.args, r.err, r.stdout, step.want)
		}
	}
	for _, args := range [][]string{{"rollups"}, {"rollups", "refold"}, {"rollups", "fold", "rebuild"},
		{"search-index"}, {"search-index", "yes"}} {
		var ue *usageError
		if r := runCmd(t, env, "", args...); !errors.As(r.err, &ue) || !strings.Contains(r.err.Error(), args[0]+": want one argument") {
			t.Errorf("%v: err = %v, want a usage error naming the verbs", args, r.err)
		}
	}
	down := map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}
	if r := runCmd(t, down, "", "rollups", "status"); r.err == nil {
		t.Error("rollups status without a database: no error")
	}
}

// TestFoldRollups_FailureIsLogged folds on a closed pool: the failure is
// logged, as a warning, and nothing else happens.
func TestFoldRollups_FailureIsLogged(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pool.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	foldRollups(t.Context(), store.New(pool), logger)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "rollups not folded") {
		t.Errorf("logs = %q, want a warning that the rollups were not folded", logs.String())
	}
	logs.Reset()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	foldRollups(ctx, store.New(pool), logger)
	if logs.Len() != 0 {
		t.Errorf("a fold at shutdown logged %q, want it skipped", logs.String())
	}
}
