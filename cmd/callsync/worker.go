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
	secrets *secretSet
}

func (c *apiConfig) register(f *flagSet) {
	c.secrets = f.secrets
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
	c.secrets.add(c.key)
	switch {
	case c.key == "":
		return usagef("no API key: set SYNTHFLOW_API_KEY, or SYNTHFLOW_API_KEY_FILE to a file holding it")
	case c.timeout <= 0:
		return usagef("--api-timeout (SYNTHFLOW_API_TIMEOUT) must be positive, got %v", c.timeout)
	case c.rateLimit < 0:
		return usagef("--rate-limit (SYNTHFLOW_RATE_LIMIT) must be 0 (no limit) or more, got %d", c.rateLimit)
	case c.rateBurst < 1:
		return usagef("--rate-burst (SYNTHFLOW_RATE_BURST) must be at least 1, got %d", c.rateBurst)
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
	limiter := callsync.NewLimiter(db, callsync.LimiterKey(c.url, c.key), float64(c.rateLimit), c.rateBurst, withComponent(logger, componentLimiter))
	cl, err := api.NewClient(api.Options{BaseURL: c.url, APIKey: c.key, Timeout: c.timeout, Limiter: limiter,
		Observe: c.observe, Secrets: c.secrets.list()})
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

// urlError explains an API that cannot be used at SYNTHFLOW_API_URL (an
// error matching callsync.ErrAPIUnavailable): which setting to check, and
// that no call was blamed for it.
func (c *apiConfig) urlError(err error) error {
	if errors.Is(err, api.ErrWrongURL) {
		return fmt.Errorf("%w\nSYNTHFLOW_API_URL (now %s) does not lead to the Synthflow API: set it to the API base "+
			"with its version, %s (or the api.us. or api.eu. host of your region). No queued call was counted as failed",
			err, c.url, api.DefaultBaseURL)
	}
	return fmt.Errorf("%w\nSYNTHFLOW_API_URL (now %s): the host cannot be reached; check the URL, DNS and the "+
		"network path (egress rules, proxy). No queued call was counted as failed", err, c.url)
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
	s := &callsync.Syncer{Queue: db, API: client, Logger: withComponent(logger, componentPass), Config: cfg, ObserveWrite: tel.observeWrite,
		ObserveBatch: tel.observeBatch}
	return &worker{db: db, tel: tel, client: client, syncer: s}, nil
}

// logPass logs a pass summary, or its error.
func logPass(logger *slog.Logger, st callsync.Stats, took time.Duration, err error) {
	attrs := []any{attrTook, took.Round(time.Millisecond), "claimed", st.Claimed, "done", st.Done,
		"polling", st.Polling, "retrying", st.Retrying, "failed", st.Failed, "rate_limited", st.RateLimited,
		"released", st.Released, "lost", st.Lost, "erased", st.Erased, "rescued", st.Rescued}
	switch {
	case err == nil && st.Claimed == 0 && st.Rescued == 0:
		logger.Debug("sync pass done: nothing was due", attrs...) // an idle tick, every minute
	case err == nil:
		logger.Info("sync pass done", attrs...)
	case errors.Is(err, context.Canceled):
		logger.Info("sync pass stopped", attrs...)
	default:
		logger.Error("sync pass failed", append(attrs, tint.Err(err))...)
	}
}
