package main

import (
	"context"
	"errors"

	callsync "github.com/callsync/callsync/sync"
)

func runOnce(ctx context.Context, args []string, e env) error {
	f := newFlagSet("once", "once [flags]", e)
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
	db, err := openStore(ctx, dc, logger, true)
	if err != nil {
		return err
	}
	defer db.Close()
	tel := newTelemetry()
	ac.observe = tel.observeAPI
	cfg.RequestsPerSecond = ac.requestsPerSecond()
	client, err := ac.client(db, logger)
	if err != nil {
		return err
	}
	s := &callsync.Syncer{Queue: db, API: client, Logger: logger, Config: cfg, ObserveWrite: tel.observeWrite}
	_, err = newPassRunner("once", s, db, tel, logger, rc).run(ctx)
	switch {
	case err == nil, ctx.Err() != nil && errors.Is(err, context.Canceled):
		return nil // a signal ended the pass: what was fetched is stored, the rest is queued
	case errors.Is(err, callsync.ErrUnauthorized):
		return ac.authError(err)
	}
	return err
}
