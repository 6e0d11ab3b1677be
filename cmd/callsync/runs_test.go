package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	callsync "github.com/callsync/callsync/sync"
)

// TestPassRunner_RecordsFailedPassOnceDatabaseIsBack runs a pass while the
// database is down, then one after it is back: sync_runs shows both, the
// failed one with its error, so sync_health counts the outage.
func TestPassRunner_RecordsFailedPassOnceDatabaseIsBack(t *testing.T) {
	ctx := t.Context()
	pg, dbURL := ownServer(t)
	srv := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 2})...)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ac := apiConfig{url: srv.URL, key: testKey, timeout: 5 * time.Second, rateLimit: 0, rateBurst: 1}
	w, err := openWorker(ctx, logger, dbConfig{url: dbURL}, &ac, callsync.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer w.db.Close()
	p := newPassRunner("run", w, logger, runsConfig{})
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.run(ctx); err == nil {
		t.Fatal("a pass with the database down succeeded")
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the database back", func() bool { return w.db.Ready(ctx) == nil })
	if _, err := p.run(ctx); err != nil {
		t.Fatal(err)
	}
	runs, err := w.db.RecentRuns(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[1].Error == "" || runs[0].Error != "" {
		t.Fatalf("sync_runs = %+v, want the failed pass then the good one", runs)
	}
	h, err := w.db.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.FailedPassesLast24h != 1 {
		t.Errorf("sync_health counts %d failed passes, want 1", h.FailedPassesLast24h)
	}
}
