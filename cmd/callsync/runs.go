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

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// recordTimeout bounds the write of a pass's sync_runs row, which happens
// even when the pass was cancelled by a shutdown.
const recordTimeout = 10 * time.Second

// runsConfig holds the sync_runs settings.
type runsConfig struct {
	retention time.Duration
}

func (c *runsConfig) register(f *flagSet) {
	f.durationVar(&c.retention, "runs-retention", "SYNC_RUNS_RETENTION", 30*24*time.Hour,
		"how long the sync_runs table keeps a pass, e.g. 720h for 30 days (0: forever)")
}

func (c *runsConfig) validate() error {
	if c.retention < 0 {
		return usagef("--runs-retention (SYNC_RUNS_RETENTION) must be 0 (keep every pass) or more, got %v", c.retention)
	}
	return nil
}

// passRunner runs sync passes and reports each one: a log line, metrics
// and a row of sync_runs.
type passRunner struct {
	syncer    *callsync.Syncer
	db        *store.DB
	tel       *telemetry
	logger    *slog.Logger
	rollups   *slog.Logger // for the fold after each pass
	command   string       // once or run
	worker    string       // host name
	retention time.Duration
	// archive, when set, archives recordings after each pass with the
	// budget the pass left.
	archive *archiveStep

	unrecorded []store.Run // passes sync_runs could not take yet, oldest first
	dropped    int         // passes dropped from unrecorded since the last recorded failure
}

func newPassRunner(command string, s *callsync.Syncer, db *store.DB, tel *telemetry, logger *slog.Logger, rc runsConfig) *passRunner {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return &passRunner{syncer: s, db: db, tel: tel, logger: withComponent(logger, componentPass),
		rollups: withComponent(logger, componentRollups), command: command, worker: host, retention: rc.retention}
}

// run runs one pass, reports it and folds the rollups. It returns what RunOnce returned; a
// failure to record the pass is logged, not returned.
func (p *passRunner) run(ctx context.Context) (callsync.Stats, error) {
	p.tel.startPass()
	start := time.Now()
	st, err := p.syncer.RunOnce(ctx)
	end := time.Now()
	logPass(p.logger, st, end.Sub(start), p.tel.passRateWait(), err)

	requests, throttled := p.tel.passAPI()
	run := store.Run{Worker: p.worker, Command: p.command, StartedAt: start, FinishedAt: end,
		Claimed: st.Claimed, Synced: st.Done, Unchanged: st.Unchanged,
		Requeued: st.Polling + st.Retrying + st.RateLimited + st.Released,
		// An erased call's row was taken out of the pass's hands, as a lost one is.
		Failed: st.Failed, Lost: st.Lost + st.Erased, Rescued: st.Rescued, APIRequests: requests, APIRateLimited: throttled}
	if err != nil {
		run.Error = err.Error()
	}
	p.record(ctx, run)
	// The metrics move after the row is written: who sees the pass counted
	// finds its sync_runs row.
	result := passResult(err)
	if errors.Is(err, callsync.ErrUnauthorized) {
		result = "unauthorized"
	}
	p.tel.observePass(end.Sub(start), result, end)
	// Off the pass: what the pass wrote is in the daily views already.
	foldRollups(ctx, p.db, p.rollups)
	if ctx.Err() == nil && !errors.Is(err, callsync.ErrUnauthorized) {
		p.archive.run(ctx)
	}
	return st, err
}

// maxUnrecorded bounds the passes kept in memory while sync_runs cannot be
// written; beyond it the oldest are dropped (and counted in the next one's
// error), so that a long outage cannot grow memory.
const maxUnrecorded = 100

// record writes run to sync_runs, with the runs that could not be written
// before it: a pass that failed because the database was down is recorded
// once the database is back, so that sync_runs and sync_health show the
// outage. A write that fails again keeps them for the next pass.
func (p *passRunner) record(ctx context.Context, run store.Run) {
	p.unrecorded = append(p.unrecorded, run)
	if n := len(p.unrecorded) - maxUnrecorded; n > 0 {
		p.dropped += n
		p.unrecorded = p.unrecorded[n:]
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	for len(p.unrecorded) > 0 {
		r := p.unrecorded[0]
		if p.dropped > 0 {
			r.Error = strings.TrimSpace(fmt.Sprintf("%s (%d earlier passes were not recorded: sync_runs could not be written)",
				r.Error, p.dropped))
		}
		if _, err := p.db.RecordRun(rctx, r, p.retention); err != nil {
			p.logger.Warn("sync pass not recorded in sync_runs yet; it will be with the next pass",
				"unrecorded", len(p.unrecorded), tint.Err(err))
			return
		}
		p.dropped = 0
		p.unrecorded = p.unrecorded[1:]
	}
}

// passResult names a pass's end for metrics, as logPass does for logs.
func passResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "stopped"
	default:
		return "failed"
	}
}
