package main

import (
	"context"
	"errors"

	callsync "github.com/callsync/callsync/sync"
)

func runOnce(ctx context.Context, args []string, e env) error {
	f := newFlagSet("once", "once [flags]\n\nRuns one sync pass: applies pending migrations, fetches every call that is due and stores it,\nrecords the pass in sync_runs, archives recordings with the budget left (SYNC_RECORDINGS_URL), then exits (0: the pass drained the queue). For a Kubernetes\nCronJob or a crontab; 'callsync run' does the same on a schedule.", e)
	var lc logConfig
	var dc dbConfig
	var ac apiConfig
	var wc workerConfig
	lc.register(f, "info")
	dc.register(f)
	ac.register(f)
	wc.register(f)
	var rc runsConfig
	rc.register(f)
	var recs recordingsConfig
	recs.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	logger, err := lc.logger(e.stderr)
	if err != nil {
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
	if err := recs.validate(); err != nil {
		return err
	}
	w, err := openWorker(ctx, logger, dc, &ac, cfg)
	if err != nil {
		return err
	}
	defer w.db.Close()
	pr := newPassRunner("once", w, logger, rc)
	if pr.archive, err = openArchiveStep(ctx, &recs, &ac, w, logger); err != nil {
		return err
	}
	_, err = pr.run(ctx)
	switch {
	case err == nil, ctx.Err() != nil && errors.Is(err, context.Canceled):
		return nil // a signal ended the pass: what was fetched is stored, the rest is queued
	case errors.Is(err, callsync.ErrUnauthorized):
		return ac.authError(err)
	case errors.Is(err, callsync.ErrAPIUnavailable):
		return ac.urlError(err)
	}
	return err
}
