package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
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
		return usagef("--runs-retention must be 0 (keep every pass) or more, got %v", c.retention)
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
	command   string // once or run
	worker    string // host name
	retention time.Duration
}

func newPassRunner(command string, s *callsync.Syncer, db *store.DB, tel *telemetry, logger *slog.Logger, rc runsConfig) *passRunner {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return &passRunner{syncer: s, db: db, tel: tel, logger: logger, command: command, worker: host, retention: rc.retention}
}

// run runs one pass and reports it. It returns what RunOnce returned; a
// failure to record the pass is logged, not returned.
func (p *passRunner) run(ctx context.Context) (callsync.Stats, error) {
	p.tel.startPass()
	start := time.Now()
	st, err := p.syncer.RunOnce(ctx)
	end := time.Now()
	logPass(p.logger, st, end.Sub(start), err)
	p.tel.observePass(st, end.Sub(start), passResult(err), end)

	requests, throttled := p.tel.passAPI()
	run := store.Run{Worker: p.worker, Command: p.command, StartedAt: start, FinishedAt: end,
		Claimed: st.Claimed, Synced: st.Done, Unchanged: st.Unchanged,
		Requeued: st.Polling + st.Retrying + st.RateLimited + st.Released,
		// An erased call's row was taken out of the pass's hands, as a lost one is.
		Failed: st.Failed, Lost: st.Lost + st.Erased, Rescued: st.Rescued, APIRequests: requests, APIRateLimited: throttled}
	if err != nil {
		run.Error = err.Error()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if _, rerr := p.db.RecordRun(rctx, run, p.retention); rerr != nil {
		p.logger.Warn("sync pass not recorded in sync_runs", tint.Err(rerr))
	}
	return st, err
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
