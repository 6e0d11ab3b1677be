package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/pgserver"
	callsync "github.com/callsync/callsync/sync"
)

// benchConfig holds the settings of `callsync bench`.
type benchConfig struct {
	calls       int
	latency     time.Duration
	concurrency int
	batchSize   int
	rateLimit   int
	prefill     int
	processes   int
	duration    time.Duration
	naive       int
	worker      string
	searchIndex bool
	keep        bool
}

func runBench(ctx context.Context, args []string, e env) error {
	f := newFlagSet("bench", "bench [flags]\n\nMeasures the whole sync path: generates calls in a fake API on loopback, drains them into a fresh\ndatabase with real worker processes ('callsync once'), then syncs them again unchanged, and runs\nthe naive path (one transaction per call, statement by statement) on a sample for comparison.\nUses a throwaway PostgreSQL, or a fresh database created (and dropped) on DATABASE_URL's server.", e)
	var lc logConfig
	var dc dbConfig
	var c benchConfig
	lc.register(f, "warn")
	dc.register(f)
	f.IntVar(&c.calls, "calls", 20000, "calls the fake API serves and the workers drain")
	f.DurationVar(&c.latency, "latency", 0, "fake API latency per request")
	f.IntVar(&c.concurrency, "concurrency", callsync.DefaultConfig().Concurrency, "API requests in flight per worker")
	f.IntVar(&c.batchSize, "batch-size", callsync.DefaultConfig().BatchSize, "rows claimed and written per transaction")
	f.IntVar(&c.rateLimit, "rate-limit", 0, "API requests per minute shared by the workers (0: no limit)")
	f.IntVar(&c.prefill, "prefill", 0, "calls already in the warehouse (and done in the queue) before the run")
	f.IntVar(&c.processes, "processes", 1, "worker processes draining the queue together")
	f.DurationVar(&c.duration, "duration", 0, "stop the workers after this long (0: when the queue is drained)")
	f.IntVar(&c.naive, "naive-sample", 500, "calls synced by the naive path (0: skip it)")
	f.StringVar(&c.worker, "worker-binary", "", "callsync binary for the worker processes (default: this one)")
	f.BoolVar(&c.keep, "keep", false, "keep the database at the end (with DATABASE_URL) and print its URL, e.g. to time queries after --prefill")
	f.BoolVar(&c.searchIndex, "search-index", false, "also sync the calls fresh again with the transcript search index on, and compare")
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case c.calls < 1, c.concurrency < 1, c.batchSize < 1, c.processes < 1, c.rateLimit < 0, c.prefill < 0, c.naive < 0:
		return usagef("bench: --calls, --concurrency, --batch-size and --processes must be positive; --rate-limit, --prefill and --naive-sample not negative")
	}
	if c.worker == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find the callsync binary: %w (use --worker-binary)", err)
		}
		c.worker = exe
	}
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return err
	}
	return bench(ctx, c, dc.url, logger, e.stdout)
}

func bench(ctx context.Context, c benchConfig, adminURL string, logger *slog.Logger, out io.Writer) error {
	dbURL, cleanup, err := benchDatabase(ctx, adminURL)
	if err != nil {
		return err
	}
	if c.keep && adminURL != "" {
		fmt.Fprintf(out, "database kept: %s\n", dbURL)
	} else {
		defer cleanup()
	}
	db, err := openStore(ctx, dbConfig{url: dbURL}, logger, true)
	if err != nil {
		return err
	}
	defer db.Close()

	if c.prefill > 0 {
		start := time.Now()
		if err := prefill(ctx, db, c.prefill); err != nil {
			return err
		}
		fmt.Fprintf(out, "prefilled %d calls in %s\n", c.prefill, time.Since(start).Round(time.Millisecond))
	}
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: c.calls})
	fake, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: demoKey, Faults: apitest.Faults{LatencyMin: c.latency}})
	if err != nil {
		return err
	}
	defer fake.Close()
	ids := make([]string, len(calls))
	size := 0
	for i, call := range calls {
		ids[i] = call.ID()
		size += len(call.GetJSON())
	}
	rate := "none"
	if c.rateLimit > 0 {
		rate = fmt.Sprintf("%d/min", c.rateLimit)
	}
	fmt.Fprintf(out, "%d calls (%.1f KB each on average), API latency %s, %d worker process(es) × concurrency %d, batch %d, rate limit %s, %d calls prefilled\n",
		c.calls, float64(size)/float64(len(calls))/1000, c.latency, c.processes, c.concurrency, c.batchSize, rate, c.prefill)

	fresh, err := benchPhase(ctx, c, db, fake, ids, dbURL)
	if err != nil {
		return err
	}
	printPhase(out, "fresh sync", fresh)
	if fresh.rateLimit > 0 {
		printLimit(out, fresh)
	}
	if c.duration > 0 {
		return nil // a timed run leaves the queue part drained: no re-sync
	}
	fake.Counters().Reset()
	again, err := benchPhase(ctx, c, db, fake, ids, dbURL)
	if err != nil {
		return err
	}
	printPhase(out, "unchanged re-sync", again)
	fmt.Fprintf(out, "  unchanged re-sync is %.1f× the fresh rate\n", again.rate()/fresh.rate())
	if c.naive > 0 {
		n, took, err := naiveSync(ctx, db, fake, calls[:min(c.naive, len(calls))])
		if err != nil {
			return err
		}
		naive := float64(n) / took.Seconds()
		fmt.Fprintf(out, "%-18s %7d calls in %8s  %8.0f calls/s\n", "naive path", n, took.Round(time.Millisecond), naive)
		fmt.Fprintf(out, "  fresh sync is %.1f× the naive path\n", fresh.rate()/naive)
	}
	if c.searchIndex {
		return benchSearchIndex(ctx, c, db, fake, ids, dbURL, fresh, out)
	}
	return nil
}

// benchSearchIndex empties the warehouse, switches the transcript search
// index on and syncs the same calls fresh again, comparing with fresh.
func benchSearchIndex(ctx context.Context, c benchConfig, db *store.DB, fake *apitest.Server, ids []string,
	dbURL string, fresh phase, out io.Writer) error {
	if err := db.EmptyWarehouse(ctx); err != nil {
		return err
	}
	if err := db.SetTranscriptSearch(ctx, true); err != nil {
		return err
	}
	fake.Counters().Reset()
	indexed, err := benchPhase(ctx, c, db, fake, ids, dbURL)
	if err != nil {
		return err
	}
	printPhase(out, "fresh, search idx", indexed)
	fmt.Fprintf(out, "  with the transcript search index, fresh sync runs at %.2f× the rate without (%+.1f%%)\n",
		indexed.rate()/fresh.rate(), (indexed.rate()/fresh.rate()-1)*100)
	return nil
}

// benchDatabase returns a fresh database: on adminURL's server when set,
// else on a throwaway server. cleanup drops or removes it.
func benchDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	name := fmt.Sprintf("callsync_bench_%d", time.Now().UnixNano())
	if adminURL == "" {
		srv, err := pgserver.Start(ctx, pgserver.Options{})
		if err != nil {
			return "", nil, fmt.Errorf("bench: %w\nSet DATABASE_URL to use a running server instead", err)
		}
		if err := createDatabase(ctx, srv.URL("postgres"), name); err != nil {
			srv.Close()
			return "", nil, err
		}
		return srv.URL(name), func() { srv.Close() }, nil
	}
	if err := createDatabase(ctx, adminURL, name); err != nil {
		return "", nil, err
	}
	dbURL, err := withDatabase(adminURL, name)
	if err != nil {
		return "", nil, err
	}
	return dbURL, func() { _ = dropDatabase(context.WithoutCancel(ctx), adminURL, name) }, nil
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
	if cloned == 0 {
		return nil
	}
	copies := (cloned + chunk - 1) / chunk
	return db.CloneCalls(ctx, "prefill-", copies, span, nil)
}
