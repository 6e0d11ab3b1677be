package main

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// runConfig holds the settings of `callsync run`; validate resolves
// worker and retention from them.
type runConfig struct {
	log         logConfig
	db          dbConfig
	api         apiConfig
	work        workerConfig
	runs        runsConfig
	intake      intakeConfig
	retain      retentionConfig
	recordings  recordingsConfig
	schedule    string
	httpAddr    string
	agentsEvery time.Duration

	worker    callsync.Config // the pass settings, once validated
	retention store.Retention // zero: no retention
}

func (c *runConfig) register(f *flagSet) {
	c.log.register(f, "info")
	c.db.register(f)
	c.api.register(f)
	c.work.register(f)
	c.runs.register(f)
	c.intake.register(f)
	c.retain.register(f)
	c.recordings.register(f)
	f.stringVar(&c.schedule, "schedule", "SYNC_SCHEDULE", "@every 1m", "when to run passes: cron syntax (*/5 * * * *) or @every DURATION")
	f.stringVar(&c.httpAddr, "http-addr", "HTTP_ADDR", "", "serve HTTP endpoints on this address, e.g. :8080 (empty: no HTTP)")
	f.durationVar(&c.agentsEvery, "agents-refresh", "AGENTS_REFRESH", time.Hour,
		"how often to list the agents into the agents table (also at start, and when a call names an unknown agent)")
}

// validate checks every setting, in the order run always has, before
// anything connects, and returns the logger built from them.
func (c *runConfig) validate(stderr io.Writer) (*slog.Logger, error) {
	if c.agentsEvery <= 0 {
		return nil, usagef("--agents-refresh must be positive")
	}
	logger, err := c.log.logger(stderr)
	if err != nil {
		return nil, err
	}
	if err := checkSchedule(c.schedule); err != nil {
		return nil, err
	}
	if c.worker, err = c.work.config(); err != nil {
		return nil, err
	}
	if err := c.api.validate(); err != nil {
		return nil, err
	}
	if err := c.runs.validate(); err != nil {
		return nil, err
	}
	if err := c.intake.validate(c.httpAddr); err != nil {
		return nil, err
	}
	if c.retention, err = c.retain.retention(); err != nil {
		return nil, err
	}
	if err := c.recordings.validate(); err != nil {
		return nil, err
	}
	return logger, nil
}

// serveHTTP mounts the telemetry and webhook endpoints and, with
// --http-addr, serves them; it returns nil without --http-addr.
func (c *runConfig) serveHTTP(w *worker, snap *queueSnapshot, logger *slog.Logger) (*httpServer, error) {
	mux := http.NewServeMux()
	httpLog := withComponent(logger, componentHTTP)
	mountTelemetry(mux, snap, w.tel, httpLog)
	c.intake.mount(mux, w.db, w.tel, withComponent(logger, componentWebhook))
	if c.httpAddr == "" {
		return nil, nil
	}
	return listenHTTP(c.httpAddr, mux, httpLog)
}
