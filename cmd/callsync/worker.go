package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// apiConfig holds the Synthflow API settings.
type apiConfig struct {
	url       string
	key       string
	keyFile   string
	timeout   time.Duration
	rateLimit int
	rateBurst int
	// observe, when set, is told of every request (api.Options.Observe).
	observe func(endpoint string, status int, took time.Duration)
}

func (c *apiConfig) register(f *flagSet) {
	f.stringVar(&c.url, "api-url", "SYNTHFLOW_API_URL", api.DefaultBaseURL,
		"Synthflow API base URL with /v2: https://api.synthflow.ai/v2, https://api.us.synthflow.ai/v2 or https://api.eu.synthflow.ai/v2")
	f.secretVar(&c.key, "api-key", "SYNTHFLOW_API_KEY", "Synthflow API key (prefer the environment or a key file to a flag)")
	f.stringVar(&c.keyFile, "api-key-file", "SYNTHFLOW_API_KEY_FILE", "", "file holding the Synthflow API key, e.g. a mounted secret")
	f.durationVar(&c.timeout, "api-timeout", "SYNTHFLOW_API_TIMEOUT", 30*time.Second, "timeout of one API request")
	f.intVar(&c.rateLimit, "rate-limit", "SYNTHFLOW_RATE_LIMIT", 30,
		"API requests per minute, shared by every callsync process using the key (0: no limit)")
	f.intVar(&c.rateBurst, "rate-burst", "SYNTHFLOW_RATE_BURST", 2, "requests that may be sent at once after a quiet spell")
}

// validate checks the settings and resolves the key, before anything
// connects anywhere. Errors name the setting, never the key.
func (c *apiConfig) validate() error {
	if c.keyFile != "" {
		if strings.TrimSpace(c.key) != "" {
			return usagef("set SYNTHFLOW_API_KEY or SYNTHFLOW_API_KEY_FILE, not both")
		}
		b, err := os.ReadFile(c.keyFile)
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // not the path: a key set there by mistake must not be shown
		}
		if err != nil {
			return usagef("read SYNTHFLOW_API_KEY_FILE: %v", err)
		}
		c.key, c.keyFile = string(b), ""
	}
	c.key = strings.TrimSpace(c.key)
	switch {
	case c.key == "":
		return usagef("no API key: set SYNTHFLOW_API_KEY, or SYNTHFLOW_API_KEY_FILE to a file holding it")
	case c.timeout <= 0:
		return usagef("--api-timeout must be positive")
	case c.rateLimit < 0:
		return usagef("--rate-limit must be 0 (no limit) or more")
	case c.rateBurst < 1:
		return usagef("--rate-burst must be at least 1")
	}
	if _, err := api.NewClient(api.Options{BaseURL: c.url}); err != nil {
		return usagef("SYNTHFLOW_API_URL: %v", err)
	}
	return nil
}

// client builds the API client, paced by a limiter whose budget and pauses
// are shared through the database with every process using the same key
// and host. Call validate first.
func (c *apiConfig) client(db *store.DB, logger *slog.Logger) (*api.Client, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	limiter := callsync.NewLimiter(db, callsync.LimiterKey(c.url, c.key), float64(c.rateLimit), c.rateBurst, logger)
	cl, err := api.NewClient(api.Options{BaseURL: c.url, APIKey: c.key, Timeout: c.timeout, Limiter: limiter,
		Observe: c.observe})
	if err != nil {
		return nil, usagef("SYNTHFLOW_API_URL: %v", err)
	}
	return cl, nil
}

// requestsPerSecond is the request budget the limiter allows (0: none).
func (c *apiConfig) requestsPerSecond() float64 {
	return float64(c.rateLimit) * callsync.RateMargin / 60
}

// authError explains a refused key: which settings to check.
func (c *apiConfig) authError(err error) error {
	return fmt.Errorf("%w\nThe API refused the key. Check SYNTHFLOW_API_KEY (or SYNTHFLOW_API_KEY_FILE), and that "+
		"SYNTHFLOW_API_URL (now %s) is your workspace's region: a key used against another region's host gets 401", err, c.url)
}

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

func (c *workerConfig) config() (callsync.Config, error) {
	cfg := c.cfg
	for name, v := range map[string]int{"--batch-size": cfg.BatchSize, "--concurrency": cfg.Concurrency, "--max-attempts": cfg.MaxAttempts} {
		if v < 1 {
			return cfg, usagef("%s must be at least 1, got %d", name, v)
		}
	}
	cfg.Retry = callsync.Backoff{Base: c.retryBase, Max: c.retryMax}
	var err error
	if cfg.HashPhones, err = c.hash.hasher(); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
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
		if err := store.Migrate(ctx, db.Pool(), logger); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
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
	db     *store.DB
	tel    *telemetry
	client *api.Client
	syncer *callsync.Syncer
}

// openWorker opens a worker with cfg, its claims sized to the API budget.
// Settings are validated before it is called. Close the store when done.
func openWorker(ctx context.Context, logger *slog.Logger, dc dbConfig, ac *apiConfig, cfg callsync.Config) (*worker, error) {
	db, err := openStore(ctx, dc, logger, true)
	if err != nil {
		return nil, err
	}
	tel := newTelemetry()
	ac.observe = tel.observeAPI
	client, err := ac.client(db, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	cfg.RequestsPerSecond = ac.requestsPerSecond()
	s := &callsync.Syncer{Queue: db, API: client, Logger: logger, Config: cfg, ObserveWrite: tel.observeWrite}
	return &worker{db: db, tel: tel, client: client, syncer: s}, nil
}

// logPass logs a pass summary, or its error.
func logPass(logger *slog.Logger, st callsync.Stats, took time.Duration, err error) {
	attrs := []any{"took", took.Round(time.Millisecond), "claimed", st.Claimed, "done", st.Done,
		"polling", st.Polling, "retrying", st.Retrying, "failed", st.Failed, "rate_limited", st.RateLimited,
		"released", st.Released, "lost", st.Lost, "erased", st.Erased, "rescued", st.Rescued}
	switch {
	case err == nil:
		logger.Info("sync pass done", attrs...)
	case errors.Is(err, context.Canceled):
		logger.Info("sync pass stopped", attrs...)
	default:
		logger.Error("sync pass failed", append(attrs, tint.Err(err))...)
	}
}
