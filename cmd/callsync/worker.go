package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// workerConfig holds the sync pass settings.
type workerConfig struct {
	cfg       callsync.Config
	hash      hashConfig
	retryBase time.Duration
	retryMax  time.Duration
}

func (c *workerConfig) register(f *flagSet) {
	d := callsync.DefaultConfig()
	f.intVar(&c.cfg.BatchSize, "batch-size", "SYNC_BATCH_SIZE", d.BatchSize, "queue rows claimed and written per transaction")
	f.intVar(&c.cfg.Concurrency, "concurrency", "SYNC_CONCURRENCY", d.Concurrency, "API requests in flight at once")
	f.durationVar(&c.cfg.Lease, "lease", "SYNC_LEASE", d.Lease, "how long claimed rows stay reserved; a crashed worker's rows come back after it")
	f.intVar(&c.cfg.MaxAttempts, "max-attempts", "SYNC_MAX_ATTEMPTS", d.MaxAttempts, "failed attempts after which a call is marked failed")
	f.durationVar(&c.retryBase, "retry-base", "SYNC_RETRY_BASE", d.Retry.Base, "first retry delay ceiling (exponential backoff with full jitter)")
	f.durationVar(&c.retryMax, "retry-max", "SYNC_RETRY_MAX", d.Retry.Max, "largest retry delay")
	f.durationVar(&c.cfg.ShutdownGrace, "shutdown-grace", "SYNC_SHUTDOWN_GRACE", d.ShutdownGrace, "on SIGTERM, how long calls being fetched may take to finish")
	f.durationVar(&c.cfg.MaxPollAge, "max-poll-age", "SYNC_MAX_POLL_AGE", d.MaxPollAge, "how long after its start a call whose status is not final is fetched again")
	c.hash.register(f)
}

// workerSettings names the flag and environment variable of each
// callsync.Config field that a flag sets.
var workerSettings = map[string]string{
	"BatchSize": "--batch-size (SYNC_BATCH_SIZE)", "Concurrency": "--concurrency (SYNC_CONCURRENCY)",
	"Lease": "--lease (SYNC_LEASE)", "MaxAttempts": "--max-attempts (SYNC_MAX_ATTEMPTS)",
	"Retry":         "--retry-base (SYNC_RETRY_BASE) and --retry-max (SYNC_RETRY_MAX)",
	"ShutdownGrace": "--shutdown-grace (SYNC_SHUTDOWN_GRACE)", "MaxPollAge": "--max-poll-age (SYNC_MAX_POLL_AGE)",
	"RequestsPerSecond": "--rate-limit (SYNTHFLOW_RATE_LIMIT)",
}

func (c *workerConfig) config() (callsync.Config, error) {
	cfg := c.cfg
	for _, v := range []struct {
		field string
		n     int
	}{{"BatchSize", cfg.BatchSize}, {"Concurrency", cfg.Concurrency}, {"MaxAttempts", cfg.MaxAttempts}} {
		if v.n < 1 { // 0 would mean "the default" to callsync.Config
			return cfg, usagef("%s must be at least 1, got %d", workerSettings[v.field], v.n)
		}
	}
	cfg.Retry = callsync.Backoff{Base: c.retryBase, Max: c.retryMax}
	var err error
	if cfg.HashPhones, err = c.hash.hasher(); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		var ce *callsync.ConfigError
		if errors.As(err, &ce) && workerSettings[ce.Field] != "" {
			return cfg, usagef("%s %s", workerSettings[ce.Field], ce.Problem)
		}
		return cfg, usagef("%v", err)
	}
	return cfg, nil
}

// openStore connects to the database and, with migrate, applies pending
// migrations.
func openStore(ctx context.Context, c dbConfig, logger *slog.Logger, migrate bool) (*store.DB, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, c.url, store.Options{})
	if err != nil {
		return nil, err
	}
	if migrate {
		if err := db.Migrate(ctx, withComponent(logger, componentMigrate)); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// openLogged builds the logger of lc and opens the store of dc with it,
// migrated when migrate is set: the start of every command that works on
// the database alone. Close the store when done.
func openLogged(ctx context.Context, e env, lc logConfig, dc dbConfig, migrate bool) (*slog.Logger, *store.DB, error) {
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return nil, nil, err
	}
	db, err := openStore(ctx, dc, logger, migrate)
	if err != nil {
		return nil, nil, err
	}
	return logger, db, nil
}

// openVerb is the start of the commands that take one verb of verbs and
// the log and database flags (rollups, search-index): it parses args into
// f, checks the verb and opens the migrated store. Close it when done.
func openVerb(ctx context.Context, f *flagSet, args []string, e env, verbs ...string) (string, *store.DB, error) {
	var lc logConfig
	var dc dbConfig
	lc.register(f, "info")
	dc.register(f)
	if err := f.parse(args); err != nil {
		return "", nil, err
	}
	if f.NArg() != 1 || !slices.Contains(verbs, f.Arg(0)) {
		return "", nil, usagef("%s: want one argument: %s or %s", f.Name(), strings.Join(verbs[:len(verbs)-1], ", "), verbs[len(verbs)-1])
	}
	_, db, err := openLogged(ctx, e, lc, dc, true)
	if err != nil {
		return "", nil, err
	}
	return f.Arg(0), db, nil
}

// openAPI opens what the commands that call the API need: the logger, the
// migrated store and the rate-limited client. Settings are checked before
// anything connects. Close the store when done.
func openAPI(ctx context.Context, e env, lc *logConfig, dc dbConfig, ac *apiConfig) (*slog.Logger, *store.DB, *api.Client, error) {
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := ac.validate(); err != nil {
		return nil, nil, nil, err
	}
	db, err := openStore(ctx, dc, logger, true)
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := ac.client(db, logger)
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return logger, db, client, nil
}

// worker is what once and run share: the migrated store, the telemetry,
// the rate-limited client and the Syncer wired to them.
type worker struct {
	db       *store.DB
	tel      *telemetry
	client   *api.Client
	limiter  *callsync.Limiter
	syncer   *callsync.Syncer
	progress *passProgress // reports long passes
	// spend counts requests by purpose, turns orders them (the planner's
	// first); plan holds the planner's metrics.
	spend *callsync.Spend
	turns *callsync.Turns
	plan  *planTelemetry
}

// openWorker opens a worker with cfg, its claims sized to the API budget.
// Settings are validated before it is called. Close the store when done.
func openWorker(ctx context.Context, logger *slog.Logger, dc dbConfig, ac *apiConfig, cfg callsync.Config) (*worker, error) {
	db, err := openStore(ctx, dc, logger, true)
	if err != nil {
		return nil, err
	}
	tel := newTelemetry()
	cfg.RequestsPerSecond = ac.requestsPerSecond()
	prog := &passProgress{logger: withComponent(logger, componentPass), rps: cfg.RequestsPerSecond, now: time.Now}
	ac.observe = func(endpoint string, status int, took time.Duration) {
		tel.observeAPI(endpoint, status, took)
		prog.request()
	}
	ac.observeWait = tel.observeWait
	client, err := ac.client(db, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	cfg.Redact = ac.secrets.redactor()
	plan := tel.registerPlan()
	spend := &callsync.Spend{Observe: func(purpose string) { plan.byPurpose.WithLabelValues(purpose).Inc() }}
	turns := callsync.NewTurns(cfg.RequestsPerSecond)
	s := &callsync.Syncer{Queue: db, API: client, Logger: withComponent(logger, componentPass), Config: cfg, ObserveWrite: tel.observeWrite,
		ObserveBatch: func(d callsync.Stats) {
			tel.observeBatch(d)
			prog.batch(d)
		}, Turns: turns, Spend: spend}
	return &worker{db: db, tel: tel, client: client, limiter: ac.limiter, syncer: s, progress: prog,
		spend: spend, turns: turns, plan: plan}, nil
}

// logPass logs a pass summary, or its error. rateWait is the time its
// requests waited for the rate limiter, summed over requests; paused, when
// positive, how long requests with the key stay paused after a 429. A
// failed pass is one line: next, when set, says when the next pass comes
// ("the next tick"), and extra adds attributes (its cause, a hint).
func logPass(logger *slog.Logger, st callsync.Stats, took, rateWait, paused time.Duration, err error, next string, extra ...any) {
	attrs := []any{attrTook, took.Round(time.Millisecond), "claimed", st.Claimed, "done", st.Done,
		"polling", st.Polling, "retrying", st.Retrying, "failed", st.Failed, "rate_limited", st.RateLimited,
		"released", st.Released, "lost", st.Lost, "erased", st.Erased, "rescued", st.Rescued,
		"rate_wait", rateWait.Round(time.Millisecond)}
	if paused > 0 {
		attrs = append(attrs, attrAPIPausedFor, paused.Round(time.Second))
	}
	switch {
	case err == nil && st.Claimed == 0 && st.Rescued == 0:
		logger.Debug("sync pass done: nothing was due", attrs...) // an idle tick, every minute
	case err == nil:
		logger.Info("sync pass done", attrs...)
	case errors.Is(err, context.Canceled):
		logger.Info("sync pass stopped", attrs...)
	default:
		msg := "sync pass failed"
		if next != "" {
			msg += "; trying again at " + next
		}
		logger.Error(msg, append(append(attrs, extra...), errAttr(err))...)
	}
}
