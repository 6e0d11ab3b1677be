package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lmittmann/tint"
	"github.com/robfig/cron/v3"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

func runRun(ctx context.Context, args []string, e env) error {
	f := newFlagSet("run", "run [flags]\n\nRuns a sync pass at start and then on the schedule, never two at once, until SIGTERM or SIGINT.", e)
	var lc logConfig
	var dc dbConfig
	var ac apiConfig
	var wc workerConfig
	var rc runsConfig
	var ic intakeConfig
	var retc retentionConfig
	var schedule, httpAddr string
	var agentsEvery time.Duration
	lc.register(f, "info")
	dc.register(f)
	ac.register(f)
	wc.register(f)
	rc.register(f)
	ic.register(f)
	retc.register(f)
	f.stringVar(&schedule, "schedule", "SYNC_SCHEDULE", "@every 1m", "when to run passes: cron syntax (*/5 * * * *) or @every DURATION")
	f.stringVar(&httpAddr, "http-addr", "HTTP_ADDR", "", "serve HTTP endpoints on this address, e.g. :8080 (empty: no HTTP)")
	f.durationVar(&agentsEvery, "agents-refresh", "AGENTS_REFRESH", time.Hour,
		"how often to list the agents into the agents table (also at start, and when a call names an unknown agent)")
	if err := f.parse(args); err != nil {
		return err
	}
	if agentsEvery <= 0 {
		return usagef("--agents-refresh must be positive")
	}
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return err
	}
	if err := checkSchedule(schedule); err != nil {
		return err
	}
	cfg, err := wc.config()
	if err != nil {
		return err
	}
	if err := ac.validate(); err != nil {
		return err
	}
	if err := rc.validate(); err != nil {
		return err
	}
	if err := ic.validate(httpAddr); err != nil {
		return err
	}
	retention, err := retc.retention()
	if err != nil {
		return err
	}
	w, err := openWorker(ctx, logger, dc, &ac, cfg)
	if err != nil {
		return err
	}
	defer w.db.Close()
	db := w.db
	ic.start(w.client, db, logger, callsync.IntakeConfig{MaxPollAge: cfg.MaxPollAge, HashPhones: cfg.HashPhones})

	passes := newPassRunner("run", w.syncer, db, w.tel, logger, rc)
	var gate passGate
	c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cronLogger{logger})))
	agents := &callsync.AgentRefresher{Lister: w.client, Store: db, Interval: agentsEvery}
	id, err := c.AddFunc(schedule, func() {
		ran := gate.run(func() {
			err := ic.pollOnce(ctx, logger) // new calls first, so this pass fetches the ones not final yet
			if !errors.Is(err, callsync.ErrUnauthorized) && !errors.Is(err, callsync.ErrAPIUnavailable) {
				_, err = passes.run(ctx)
			}
			if err == nil && ctx.Err() == nil {
				refreshAgents(ctx, agents, logger) // after the pass: names never hold up calls
			}
			// The process stays up whatever the API says: webhooks are still
			// queued, /metrics shows it, and the next tick tries again.
			switch {
			case errors.Is(err, callsync.ErrUnauthorized):
				logger.Error("the API refuses the key; trying again at the next tick", "hint", ac.authError(err).Error())
			case errors.Is(err, api.ErrWrongURL):
				logger.Error("the API URL is wrong; trying again at the next tick", "hint", ac.urlError(err).Error())
			case errors.Is(err, callsync.ErrAPIUnavailable):
				logger.Error("the Synthflow API cannot be reached; trying again at the next tick", "api_url", ac.url)
			}
		}, false)
		if !ran {
			logger.Info("sync pass still running; skipping this tick")
		}
	})
	if err != nil {
		return usagef("--schedule (SYNC_SCHEDULE) %q: %v", schedule, err)
	}
	snap, snapDB, err := openQueueSnapshot(ctx, dc, logger)
	if err != nil {
		return err
	}
	defer snapDB.Close()
	w.tel.afterPass = snap.kick
	var prune func()
	if retention != (store.Retention{}) {
		// Retention once a day, and at start: a worker restarted daily still prunes.
		prune = pruneDaily(ctx, db, retention, logger)
		if _, err := c.AddFunc("@every 24h", prune); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mountTelemetry(mux, snap, w.tel, logger)
	ic.mount(mux, db, w.tel, logger)
	if httpAddr != "" {
		hs, err := listenHTTP(httpAddr, mux, logger)
		if err != nil {
			return err
		}
		defer func() {
			ctx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer done()
			if err := hs.shutdown(ctx); err != nil {
				logger.Warn("http shutdown", tint.Err(err))
			}
		}()
	}
	logger.Info("callsync running", "version", readBuildVersion().Version, "schedule", schedule, "api_url", ac.url, "batch_size", cfg.BatchSize,
		"concurrency", cfg.Concurrency)
	c.Start()
	var first sync.WaitGroup             // cron's Stop waits only for the passes cron started
	first.Go(c.Entry(id).WrappedJob.Run) // the first pass now, not a schedule period from now
	first.Go(func() { wakeOnQueued(ctx, db, logger, &gate, func() { _, _ = passes.run(ctx) }) })
	if prune != nil {
		first.Go(prune)
	}
	<-ctx.Done()
	logger.Info("shutting down; waiting for the running pass")
	<-c.Stop().Done()
	first.Wait()
	logger.Info("callsync stopped")
	return nil
}

// refreshAgents refreshes the agents table when due (after the first pass,
// every interval, and when the pass stored a call of an unknown agent). A failure is logged
// and retried at the next tick: names are a convenience, calls are not.
func refreshAgents(ctx context.Context, r *callsync.AgentRefresher, logger *slog.Logger) {
	saved, refreshed, err := r.Maybe(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		logger.Warn("agents refresh failed", tint.Err(err))
	case refreshed:
		logger.Info("agents refreshed", "listed", saved.Listed, "new", saved.New, "deleted", saved.Deleted,
			"never_listed", saved.Unseen)
	}
}

// cronLogger adapts cron.Logger to slog.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" {
		c.l.Info("sync pass still running; skipping this tick")
		return
	}
	c.l.Debug("cron: "+msg, kv...)
}

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, tint.Err(err))...)
}
