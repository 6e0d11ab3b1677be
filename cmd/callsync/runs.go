package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
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
	// paused, when set, says how long requests with the key stay paused
	// after a 429 (for the summary).
	paused func() time.Duration
	// explain, when set, adds what to do about a failed pass's error to its
	// log line (attributes: hint).
	explain func(error) []any
	// next says when the next pass comes, for a failed pass's log line
	// ("" when none will: once).
	next string
	// archive, when set, archives recordings after each pass with the
	// budget the pass left.
	archive *archiveStep

	unrecorded []store.Run // passes sync_runs could not take yet, oldest first
	dropped    int         // passes dropped from unrecorded since the last recorded failure
	progress   *passProgress
}

func newPassRunner(command string, w *worker, logger *slog.Logger, rc runsConfig) *passRunner {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	p := &passRunner{syncer: w.syncer, db: w.db, tel: w.tel, logger: withComponent(logger, componentPass),
		rollups: withComponent(logger, componentRollups), command: command, worker: host, retention: rc.retention,
		progress: w.progress}
	if w.limiter != nil {
		p.paused = w.limiter.PausedFor
	}
	return p
}

// run runs one pass, reports it and folds the rollups. It returns what
// RunOnce returned; a failure to record the pass is logged, not returned.
func (p *passRunner) run(ctx context.Context) (callsync.Stats, error) {
	return p.runPass(ctx, false)
}

// runWoken is run for a pass that a wake-up started. When it finds nothing
// to do it leaves no trace but a debug line: no sync_runs row, no metric,
// no fold. Anyone who can connect can send the wake-up (NOTIFY cannot be
// restricted), so a wake-up must cost nothing when nothing is due.
func (p *passRunner) runWoken(ctx context.Context) (callsync.Stats, error) {
	return p.runPass(ctx, true)
}

func (p *passRunner) runPass(ctx context.Context, woken bool) (callsync.Stats, error) {
	p.tel.startPass()
	due := 0
	// sync_health counts the whole queue: a woken pass, which anyone who can
	// connect can start once a second, does not read it, and reports its
	// progress without an expected time.
	if !woken {
		if h, err := p.db.Health(ctx); err == nil { // if the database fails, the pass says so
			due = int(h.Due)
		}
	}
	p.progress.begin(due)
	start := time.Now()
	st, err := p.syncer.RunOnce(ctx)
	p.progress.end()
	end := time.Now()
	var paused time.Duration
	if p.paused != nil {
		paused = p.paused()
	}
	if woken && err == nil && st.Claimed == 0 && st.Rescued == 0 {
		logPass(p.logger, st, end.Sub(start), p.tel.passRateWait(), paused, nil, "")
		return st, nil
	}

	requests, throttled := p.tel.passAPI()
	run := store.Run{Worker: p.worker, Command: p.command, StartedAt: start, FinishedAt: end,
		Claimed: st.Claimed, Synced: st.Done, Unchanged: st.Unchanged,
		Requeued: st.Polling + st.Retrying + st.RateLimited + st.Released,
		// An erased call's row was taken out of the pass's hands, as a lost one is.
		Failed: st.Failed, Lost: st.Lost + st.Erased, Rescued: st.Rescued, APIRequests: requests, APIRateLimited: throttled}
	if err != nil {
		// sync_runs is readable by the BI role: secrets out, and any cut
		// through the one function that masks a secret it splits.
		run.Error = p.syncer.Config.Redact.Cut(oneLine(err.Error()), maxRunError)
	}
	recordErr := p.record(ctx, run)
	failed := passResult(err) == "failed"
	var extra []any
	if failed {
		// One line per failed pass: why, what to do, and what was not
		// recorded, rather than a line for each consequence.
		extra = append(extra, "cause", passCause(err))
		if p.explain != nil {
			extra = append(extra, p.explain(err)...)
		}
		if recordErr != nil {
			extra = append(extra, "unrecorded", len(p.unrecorded))
		}
	} else if recordErr != nil {
		p.logger.Warn("sync pass not recorded in sync_runs yet; it will be with the next pass",
			"unrecorded", len(p.unrecorded), errAttr(recordErr))
	}
	logPass(p.logger, st, end.Sub(start), p.tel.passRateWait(), paused, err, p.next, extra...)
	// The metrics move after the row is written: who sees the pass counted
	// finds its sync_runs row.
	result := passResult(err)
	if errors.Is(err, callsync.ErrUnauthorized) {
		result = "unauthorized"
	}
	p.tel.observePass(end.Sub(start), result, end)
	if failed {
		p.tel.observeFailure(passCause(err))
		return st, err // the next pass folds: the daily views stay exact meanwhile
	}
	// Off the pass: what the pass wrote is in the daily views already.
	foldRollups(ctx, p.db, p.rollups)
	if ctx.Err() == nil && !errors.Is(err, callsync.ErrUnauthorized) {
		p.archive.run(ctx)
	}
	return st, err
}

// maxRunError bounds the error text of a sync_runs row.
const maxRunError = 2000

// passCause names what made a pass fail, for the log and the
// callsync_sync_pass_failures_total metric: api_key (401 or 403), api_url
// (the URL leads to no endpoint of the API: 404, 405 or a redirect),
// api_unreachable (no connection to the host), or database (anything else:
// what fails a pass besides the API is the database).
func passCause(err error) string {
	switch {
	case errors.Is(err, callsync.ErrUnauthorized):
		return causeAPIKey
	case errors.Is(err, api.ErrWrongURL):
		return causeAPIURL
	case errors.Is(err, callsync.ErrAPIUnavailable):
		return causeAPIUnreachable
	default:
		return causeDatabase
	}
}

// Causes of a failed pass: the values of passCause.
const (
	causeAPIKey         = "api_key"
	causeAPIURL         = "api_url"
	causeAPIUnreachable = "api_unreachable"
	causeDatabase       = "database"
)

var passCauses = []string{causeAPIKey, causeAPIURL, causeAPIUnreachable, causeDatabase}

// maxUnrecorded bounds the passes kept in memory while sync_runs cannot be
// written; beyond it the oldest are dropped (and counted in the next one's
// error), so that a long outage cannot grow memory.
const maxUnrecorded = 100

// record writes run to sync_runs, with the runs that could not be written
// before it: a pass that failed because the database was down is recorded
// once the database is back, so that sync_runs and sync_health show the
// outage. A write that fails again keeps them for the next pass, and its
// error is returned.
func (p *passRunner) record(ctx context.Context, run store.Run) error {
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
			return err
		}
		p.dropped = 0
		p.unrecorded = p.unrecorded[1:]
	}
	return nil
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
