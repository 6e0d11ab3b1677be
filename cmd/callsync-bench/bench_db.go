package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storebench"
	callsync "github.com/callsync/callsync/sync"
)

// benchServer returns the admin URL of a server for the bench's databases:
// adminURL's when set, else a throwaway server's. cleanup stops the
// throwaway server.
func benchServer(ctx context.Context, adminURL string) (string, func(), error) {
	if adminURL != "" {
		return adminURL, func() {}, nil
	}
	srv, err := pgserver.Start(ctx, pgserver.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("%w\nUse --create-databases-on to create the bench's databases on a running server instead", err)
	}
	return srv.URL("postgres"), func() { _ = srv.Close() }, nil
}

// server is where the bench makes its databases: the server at url, each
// database a copy of template, migrated once per bench.
type server struct {
	url, template string
}

// benchTemplate creates and migrates the database every database of the
// bench is copied from, so that each run's fresh database costs a copy
// rather than every migration again; drop drops it.
func benchTemplate(ctx context.Context, adminURL string, logger *slog.Logger) (server, func(), error) {
	name := fmt.Sprintf("callsync_bench_tmpl_%d", time.Now().UnixNano())
	if err := pgserver.CreateDatabase(ctx, adminURL, name); err != nil {
		return server{}, nil, err
	}
	drop := func() { _ = pgserver.DropDatabase(context.WithoutCancel(ctx), adminURL, name) }
	dbURL, err := pgserver.DatabaseURL(adminURL, name)
	if err != nil {
		drop()
		return server{}, nil, err
	}
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		drop()
		return server{}, nil, err
	}
	err = db.Migrate(ctx, logger)
	db.Close() // a template must have no connection when it is copied
	if err != nil {
		drop()
		return server{}, nil, err
	}
	return server{url: adminURL, template: name}, drop, nil
}

// benchDatabases makes ready the server the runs create their databases
// on (adminURL's, or a throwaway one when it is empty) and the migrated
// template they are copied from; cleanup drops the template and stops a
// throwaway server.
func benchDatabases(ctx context.Context, adminURL string, logger *slog.Logger) (server, func(), error) {
	adminURL, stop, err := benchServer(ctx, adminURL)
	if err != nil {
		return server{}, nil, err
	}
	admin, dropTemplate, err := benchTemplate(ctx, adminURL, logger)
	if err != nil {
		stop()
		return server{}, nil, err
	}
	return admin, func() { dropTemplate(); stop() }, nil
}

// benchDB creates a fresh, migrated database on admin and opens it; drop
// drops it.
func benchDB(ctx context.Context, admin server) (*store.DB, string, func(), error) {
	name := fmt.Sprintf("callsync_bench_%d", time.Now().UnixNano())
	if err := pgserver.CreateDatabaseFrom(ctx, admin.url, name, admin.template); err != nil {
		return nil, "", nil, err
	}
	drop := func() { _ = pgserver.DropDatabase(context.WithoutCancel(ctx), admin.url, name) }
	dbURL, err := pgserver.DatabaseURL(admin.url, name)
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	return db, dbURL, drop, nil
}

// prefill stores n calls, done in the queue, the way a pass would but
// without HTTP. The payloads repeat a thousand generated calls, as list
// pages send them (judgements included), under new ids and with start
// times spread evenly over the 30 days before now: what matters is how
// many rows the warehouse holds and how they spread over days and agents.
func prefill(ctx context.Context, db *store.DB, n int) error {
	const chunk = 1000
	const span = 30 * 24 * time.Hour
	now := time.Now().UTC()
	cloned := 0
	if n > chunk { // a thousand calls written, the rest cloned in SQL: millions take minutes
		cloned, n = n-chunk, chunk
	}
	base := make([]*api.Call, 0, chunk)
	for _, gc := range apitest.Generate(apitest.GenerateOptions{Seed: 99, Calls: chunk}) {
		ac, err := api.DecodeCall(gc.ListJSON())
		if err != nil {
			return err
		}
		base = append(base, ac)
	}
	for start := 0; start < n; start += chunk {
		size := min(chunk, n-start)
		ids := make([]string, size)
		outcomes := make([]store.Outcome, size)
		for i := range size {
			ac := *base[i]
			ac.ID = fmt.Sprintf("prefill-%d-%s", start, ac.ID)
			started := now.Add(-time.Duration(float64(span) * float64(start+i) / float64(n)))
			ac.StartTime = &started
			row, _, err := callsync.Normalize(&ac)
			if err != nil {
				return err
			}
			ids[i] = ac.ID
			outcomes[i] = store.Outcome{CallID: ac.ID, Call: &row, State: store.StateDone}
		}
		if _, err := db.Enqueue(ctx, ids); err != nil {
			return err
		}
		lease, err := db.Claim(ctx, size, time.Hour)
		if err != nil {
			return err
		}
		if len(lease.Rows) != size {
			return fmt.Errorf("bench: prefill claimed %d of %d rows", len(lease.Rows), size)
		}
		if _, err := db.Complete(ctx, lease.Token, outcomes); err != nil {
			return err
		}
	}
	if cloned > 0 {
		copies := (cloned + chunk - 1) / chunk
		if err := storebench.CloneCalls(ctx, db, "prefill-", copies, span, nil); err != nil {
			return err
		}
	}
	// One pass over every call, rather than a fold of each day and agent
	// one by one: the rollups are as a worker's folds leave them.
	return db.RebuildRollups(ctx)
}
