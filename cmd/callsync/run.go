package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"

	callsync "github.com/callsync/callsync/sync"
)

func runRun(ctx context.Context, args []string, e env) error {
	f := newFlagSet("run", "run [flags]\n\nRuns a sync pass at start and then on the schedule, never two at once, until SIGTERM or SIGINT.", e)
	var c runConfig
	c.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	logger, err := c.validate(e.stderr)
	if err != nil {
		return err
	}
	w, err := openWorker(ctx, logger, c.db, &c.api, c.worker)
	if err != nil {
		return err
	}
	defer w.db.Close()
	planner := c.intake.planner(w, logger, callsync.IntakeConfig{MaxPollAge: c.worker.MaxPollAge, HashPhones: c.worker.HashPhones})
	s, err := newScheduler(ctx, &c, w, planner, logger)
	if err != nil {
		return err
	}
	if s.passes.archive, err = openArchiveStep(ctx, &c.recordings, &c.api, w, logger); err != nil {
		return err
	}
	if s.passes.archive != nil {
		s.passes.archive.archiver.Yield = s.gate.wanted
	}
	httpLog := withComponent(logger, componentHTTP)
	snap, closeSnap, err := openQueueSnapshot(ctx, c.db, httpLog)
	if err != nil {
		return err
	}
	defer closeSnap()
	w.tel.afterPass = snap.kick
	hs, err := c.serveHTTP(w, snap, logger)
	if err != nil {
		return err
	}
	if hs != nil {
		defer stopHTTP(ctx, hs, httpLog)
	}
	runLog := withComponent(logger, componentRun)
	runLog.Info("callsync running", "version", readBuildVersion().Version, "schedule", c.schedule, attrAPIURL, c.api.url,
		"batch_size", c.worker.BatchSize, "concurrency", c.worker.Concurrency)
	wait := s.start(ctx)
	<-ctx.Done()
	runLog.Info("shutting down; waiting for the running pass")
	wait()
	runLog.Info("callsync stopped")
	return nil
}

// stopHTTP shuts hs down, giving requests in flight 10 seconds.
func stopHTTP(ctx context.Context, hs *httpServer, logger *slog.Logger) {
	ctx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	if err := hs.shutdown(ctx); err != nil {
		logger.Warn("http shutdown", tint.Err(err))
	}
}
