package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/storebench"
	callsync "github.com/callsync/callsync/sync"
)

// benchConfig holds the settings of a bench run.
type benchConfig struct {
	calls       int
	latency     time.Duration
	concurrency int
	batchSize   int
	rateLimit   int
	noLimitToo  bool
	prefill     int
	processes   intList
	runs        int
	duration    time.Duration
	naive       int
	backfill    bool
	worker      string
	searchIndex bool
	keep        bool
	server      string // --create-databases-on: the server the bench may create databases on
	logLevel    string
}

// benchRateLimit is bench's default rate limit: production always runs with
// one, and this one is far above what a machine can send, so that the
// figures show the limiter's own cost.
const benchRateLimit = 1_000_000

// fakeAPIKey is the fake API's key; it authenticates nothing real.
const fakeAPIKey = "bench-key"

const benchUsage = `callsync-bench [flags]

Measures the whole sync path: generates calls in a fake API on loopback, drains them into a fresh
database with real worker processes ('callsync once'), then syncs them again unchanged, with the
rate limiter on (as in production) and without it; runs the naive path (one transaction per call,
statement by statement) on a sample for comparison; with --backfill, also stores the calls from list
pages ('callsync backfill') and runs that again. Each run uses a fresh database; the summary gives
medians. The databases live on a throwaway PostgreSQL started from the installed server binaries,
or, with --create-databases-on, are created (and dropped) on that server. DATABASE_URL is not read.

Flags:
`

// register defines c's flags on f. A mode of the bench with flags of its
// own registers them beside these.
func (c *benchConfig) register(f *flag.FlagSet) {
	c.processes = intList{1}
	f.IntVar(&c.calls, "calls", 20000, "calls the fake API serves and the workers drain")
	f.DurationVar(&c.latency, "latency", 0, "fake API latency per request")
	f.IntVar(&c.concurrency, "concurrency", callsync.DefaultConfig().Concurrency, "API requests in flight per worker")
	f.IntVar(&c.batchSize, "batch-size", callsync.DefaultConfig().BatchSize, "rows claimed and written per transaction")
	f.IntVar(&c.rateLimit, "rate-limit", benchRateLimit, "API requests per minute shared by the workers (0: no limiter)")
	f.BoolVar(&c.noLimitToo, "no-limit-too", true, "also run every sync phase without a limiter, for comparison (not with --duration)")
	f.IntVar(&c.prefill, "prefill", 0, "calls already in the warehouse (and done in the queue) before each run")
	f.Var(&c.processes, "processes", "worker processes draining the queue together; a comma-separated list measures each")
	f.IntVar(&c.runs, "runs", 3, "runs of every phase, each on a fresh database; the summary gives medians")
	f.DurationVar(&c.duration, "duration", 0, "stop the workers after this long (0: when the queue is drained)")
	f.IntVar(&c.naive, "naive-sample", 500, "calls synced by the naive path (0: skip it)")
	f.BoolVar(&c.backfill, "backfill", false, "also measure a backfill from list pages (100 calls a request, no latency), fresh and run again")
	f.StringVar(&c.worker, "worker-binary", "", "callsync binary for the worker processes (default: callsync beside this binary, else one built with 'go build')")
	f.BoolVar(&c.keep, "keep", false, "keep each run's database at the end (with --create-databases-on) and print its URL, e.g. to time queries after --prefill")
	f.BoolVar(&c.searchIndex, "search-index", false, "in each run, also sync the calls fresh again with the transcript search index on, and compare")
	f.StringVar(&c.server, "create-databases-on", "", "postgres:// URL of a server on which the bench may create and drop databases of its own (default: a throwaway server)")
	f.StringVar(&c.logLevel, "log-level", "warn", "debug, info, warn or error")
}

// validate checks c and settles the settings that depend on others.
func (c *benchConfig) validate() error {
	switch {
	case c.calls < 1, c.concurrency < 1, c.batchSize < 1, c.runs < 1, c.rateLimit < 0, c.prefill < 0, c.naive < 0:
		return usagef("--calls, --concurrency, --batch-size and --runs must be positive; --rate-limit, --prefill and --naive-sample not negative")
	case len(c.processes) == 0:
		return usagef("--processes: give at least one count")
	case c.keep && c.server == "":
		return usagef("--keep needs --create-databases-on: a throwaway server's databases go with it")
	}
	if c.server != "" {
		if _, err := pgserver.DatabaseURL(c.server, "postgres"); err != nil {
			return usagef("--create-databases-on: want a postgres:// URL")
		}
	}
	if c.duration > 0 || c.rateLimit == 0 {
		c.noLimitToo = false
	}
	return nil
}

func runBench(ctx context.Context, args []string, e env) error {
	if live, rest := liveArg(args); live {
		return runBenchLive(ctx, rest, e)
	}
	f := flag.NewFlagSet("callsync-bench", flag.ContinueOnError)
	f.SetOutput(e.stderr)
	f.Usage = func() {
		fmt.Fprintf(f.Output(), "%s", benchUsage)
		f.PrintDefaults()
	}
	var c benchConfig
	c.register(f)
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error())
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q", f.Arg(0))
	}
	if err := c.validate(); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	logger := slog.New(tint.NewTextHandler(e.stderr, &tint.Options{Level: level, NoColor: true}))
	worker, cleanup, err := workerBinary(ctx, c.worker, e.stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	c.worker = worker
	return bench(ctx, c, c.server, logger, e.stdout)
}

// benchSetting is one combination of worker processes and rate limit.
type benchSetting struct {
	processes int
	rateLimit int // per minute, 0 for no limiter
}

func (s benchSetting) String() string {
	limit := "no limiter"
	if s.rateLimit > 0 {
		limit = fmt.Sprintf("limiter %d/min", s.rateLimit)
	}
	return fmt.Sprintf("%d process(es), %s", s.processes, limit)
}

// benchResult is what the runs of one setting measured.
type benchResult struct {
	fresh, again []phase
}

func bench(ctx context.Context, c benchConfig, adminURL string, logger *slog.Logger, out io.Writer) error {
	admin, cleanup, err := benchDatabases(ctx, adminURL, logger)
	if err != nil {
		return err
	}
	defer cleanup()

	calls := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: c.calls})
	fake, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: fakeAPIKey, Faults: apitest.Faults{LatencyMin: c.latency}})
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
	printBenchHeader(out, c, float64(size)/float64(len(calls)))
	settings := benchSettings(c)
	results, err := benchRuns(ctx, c, settings, admin, fake, ids, out)
	if err != nil {
		return err
	}
	if c.duration > 0 {
		return nil // a timed run leaves the queue part drained: no re-sync
	}
	freshRate := printSummary(out, c, settings, results)
	if c.naive > 0 {
		if err := benchNaive(ctx, admin, fake, calls[:min(c.naive, len(calls))], freshRate, settings[0], logger, out); err != nil {
			return err
		}
	}
	if c.backfill {
		return benchBackfill(ctx, c, admin, calls, freshRate, logger, out)
	}
	return nil
}

// printBenchHeader prints what the bench runs; size is a call's average
// payload in bytes.
func printBenchHeader(out io.Writer, c benchConfig, size float64) {
	rate := "none"
	if c.rateLimit > 0 {
		rate = fmt.Sprintf("%d/min", c.rateLimit)
		if c.noLimitToo {
			rate += " (and none, for comparison)"
		}
	}
	fmt.Fprintf(out, "%d calls (%.1f KB each on average), API latency %s, worker processes %v × concurrency %d, batch %d, rate limit %s, %d calls prefilled, %d run(s)\n",
		c.calls, size/1000, c.latency, c.processes, c.concurrency, c.batchSize, rate, c.prefill, c.runs)
}

// benchSettings lists the settings to measure: each process count, with
// the rate limit and, with --no-limit-too, without.
func benchSettings(c benchConfig) []benchSetting {
	var settings []benchSetting
	for _, n := range c.processes {
		settings = append(settings, benchSetting{n, c.rateLimit})
		if c.noLimitToo {
			settings = append(settings, benchSetting{n, 0})
		}
	}
	return settings
}

// benchRuns runs every setting c.runs times and returns what each measured.
func benchRuns(ctx context.Context, c benchConfig, settings []benchSetting, admin server, fake *apitest.Server, ids []string,
	out io.Writer) ([]benchResult, error) {
	results := make([]benchResult, len(settings))
	// Runs go round the settings, so that a busy spell of the machine
	// weighs on all of them alike; the order alternates from one run to the
	// next, so that neither setting always goes first.
	for run := range c.runs {
		for j := range settings {
			i := j
			if run%2 == 1 {
				i = len(settings) - 1 - j
			}
			s := settings[i]
			fmt.Fprintf(out, "run %d/%d, %s:\n", run+1, c.runs, s)
			fresh, again, err := benchRun(ctx, c, s, admin, fake, ids, out)
			if err != nil {
				return nil, err
			}
			results[i].fresh = append(results[i].fresh, fresh)
			if c.duration == 0 {
				results[i].again = append(results[i].again, again)
			}
		}
	}
	return results, nil
}

// benchNaive syncs calls by the naive path on a database of its own and
// compares its rate with freshRate, measured with setting.
func benchNaive(ctx context.Context, admin server, fake *apitest.Server, calls []apitest.Call, freshRate float64,
	setting benchSetting, logger *slog.Logger, out io.Writer) error {
	db, _, drop, err := benchDB(ctx, admin)
	if err != nil {
		return err
	}
	n, took, err := naiveSync(ctx, db, fake, calls)
	db.Close()
	drop()
	if err != nil {
		return err
	}
	naive := float64(n) / took.Seconds()
	fmt.Fprintf(out, "%-18s %7d calls in %8s  %8.0f calls/s\n", "naive path", n, took.Round(time.Millisecond), naive)
	fmt.Fprintf(out, "  fresh sync is %.1f× the naive path (median, %s)\n", freshRate/naive, setting)
	return nil
}

// benchRun runs the fresh and the unchanged phase of one setting on a
// database of their own.
func benchRun(ctx context.Context, c benchConfig, s benchSetting, admin server, fake *apitest.Server, ids []string, out io.Writer) (fresh, again phase, err error) {
	db, dbURL, drop, err := benchDB(ctx, admin)
	if err != nil {
		return fresh, again, err
	}
	if c.keep {
		fmt.Fprintf(out, "  database kept: %s\n", dbURL)
	} else {
		defer drop()
	}
	defer db.Close()
	if c.prefill > 0 {
		start := time.Now()
		if err := prefill(ctx, db, c.prefill); err != nil {
			return fresh, again, err
		}
		fmt.Fprintf(out, "  prefilled %d calls in %s\n", c.prefill, time.Since(start).Round(time.Millisecond))
	}
	pc := c
	pc.rateLimit = s.rateLimit
	fake.Counters().Reset()
	if fresh, err = benchPhase(ctx, pc, s.processes, db, fake, ids, dbURL); err != nil {
		return fresh, again, err
	}
	printPhase(out, "fresh sync", fresh)
	if fresh.rateLimit > 0 {
		printLimit(out, fresh)
		printLimiterCost(out, fresh)
	}
	if c.duration > 0 {
		return fresh, again, nil
	}
	fake.Counters().Reset()
	if again, err = benchPhase(ctx, pc, s.processes, db, fake, ids, dbURL); err != nil {
		return fresh, again, err
	}
	printPhase(out, "unchanged re-sync", again)
	if again.rateLimit > 0 {
		printLimiterCost(out, again)
	}
	if c.searchIndex {
		return fresh, again, benchSearchIndex(ctx, pc, s, db, fake, ids, dbURL, fresh, out)
	}
	return fresh, again, nil
}

// benchSearchIndex empties the warehouse, switches the transcript search
// index on and syncs the same calls fresh again, comparing with fresh.
func benchSearchIndex(ctx context.Context, c benchConfig, s benchSetting, db *store.DB, fake *apitest.Server, ids []string,
	dbURL string, fresh phase, out io.Writer) error {
	if err := storebench.EmptyWarehouse(ctx, db); err != nil {
		return err
	}
	if err := db.SetTranscriptSearch(ctx, true); err != nil {
		return err
	}
	fake.Counters().Reset()
	indexed, err := benchPhase(ctx, c, s.processes, db, fake, ids, dbURL)
	if err != nil {
		return err
	}
	printPhase(out, "fresh, search idx", indexed)
	fmt.Fprintf(out, "  with the transcript search index, fresh sync runs at %.2f× the rate without (%+.1f%%)\n",
		indexed.rate()/fresh.rate(), (indexed.rate()/fresh.rate()-1)*100)
	return nil
}

// printSummary prints the medians of every setting and how the limiter's
// settings compare with the ones without it, and returns the median fresh
// rate of the first setting.
func printSummary(out io.Writer, c benchConfig, settings []benchSetting, results []benchResult) float64 {
	fmt.Fprintf(out, "\nmedians of %d run(s):\n", c.runs)
	medians := make([][2]float64, len(settings))
	for i, s := range settings {
		fresh, again := medianRate(results[i].fresh), medianRate(results[i].again)
		medians[i] = [2]float64{fresh, again}
		fmt.Fprintf(out, "  %-36s fresh %7.0f calls/s  unchanged %7.0f calls/s  unchanged re-sync is %.1f× the fresh rate",
			s.String()+":", fresh, again, again/fresh)
		if s.rateLimit > 0 {
			fmt.Fprintf(out, "; limiter writes %.4f per request; requests waited for it %.1f %% (fresh) and %.1f %% (unchanged) of the fetch workers' time",
				medianOf(results[i].fresh, phase.limiterWritesPerRequest),
				100*medianOf(results[i].fresh, phase.limiterWaitShare), 100*medianOf(results[i].again, phase.limiterWaitShare))
		}
		fmt.Fprintln(out)
		if s.rateLimit == 0 && i > 0 && settings[i-1].processes == s.processes && settings[i-1].rateLimit > 0 {
			on := medians[i-1]
			fmt.Fprintf(out, "  %-36s fresh %.1f %%, unchanged %.1f %% of the rates without a limiter\n",
				"limiter on, "+strconv.Itoa(s.processes)+" process(es):", 100*on[0]/fresh, 100*on[1]/again)
		}
	}
	return medians[0][0]
}

func medianRate(ps []phase) float64 { return medianOf(ps, phase.rate) }

func medianOf(ps []phase, f func(phase) float64) float64 {
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = f(p)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// intList is a flag of comma-separated positive integers.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%q: want positive integers separated by commas", v)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}
