package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/lmittmann/tint"
	"github.com/robfig/cron/v3"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// scheduler runs run's jobs: a pass (after a poll, before an agents
// refresh) at start, on the schedule and when calls are queued, never two
// at once; and retention once a day.
type scheduler struct {
	cron      *cron.Cron
	passID    cron.EntryID
	gate      passGate // shared by the schedule and the wake-up
	passes    *passRunner
	planner   *callsync.Planner
	planTel   *planTelemetry
	planWake  chan struct{} // queued calls: the planner steps at once
	api       *apiConfig
	agents    *callsync.AgentRefresher
	db        *store.DB
	prune     func() // nil: no retention
	logger    *slog.Logger
	passLog   *slog.Logger
	agentsLog *slog.Logger
}

// newScheduler schedules the passes and, when retention is set, the
// daily prune. Nothing runs before start.
func newScheduler(ctx context.Context, c *runConfig, w *worker, planner *callsync.Planner, logger *slog.Logger) (*scheduler, error) {
	s := &scheduler{
		passes:    newPassRunner("run", w.syncer, w.db, w.tel, logger, c.runs),
		planner:   planner,
		planTel:   w.plan,
		planWake:  make(chan struct{}, 1),
		api:       &c.api,
		agents:    &callsync.AgentRefresher{Lister: countingLister{w.client, w.spend}, Store: w.db, Interval: c.agentsEvery},
		db:        w.db,
		logger:    withComponent(logger, componentSchedule),
		passLog:   withComponent(logger, componentPass),
		agentsLog: withComponent(logger, componentAgents),
	}
	s.cron = cron.New(cron.WithChain(cron.SkipIfStillRunning(cronLogger{s.logger})))
	id, err := s.cron.AddFunc(c.schedule, func() { s.tick(ctx) })
	if err != nil {
		return nil, usagef("--schedule (SYNC_SCHEDULE) %q: %v", c.schedule, err)
	}
	s.passID = id
	if c.retention != (store.Retention{}) {
		// Retention once a day, and at start: a worker restarted daily still prunes.
		s.prune = pruneDaily(ctx, w.db, c.retention, withComponent(logger, componentRetention), withComponent(logger, componentRollups))
		if _, err := s.cron.AddFunc("@every 24h", s.prune); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// start starts the schedule, and at once the first pass, the wake-up on
// queued calls and the first prune. The returned wait, called once ctx
// has ended, waits for the running pass and the rest to finish.
func (s *scheduler) start(ctx context.Context) (wait func()) {
	s.cron.Start()
	var first sync.WaitGroup                        // cron's Stop waits only for the passes cron started
	first.Go(s.cron.Entry(s.passID).WrappedJob.Run) // the first pass now, not a schedule period from now
	first.Go(func() {
		wakeOnQueued(ctx, s.db, s.logger, &s.gate, func() { _, _ = s.passes.run(ctx) }, s.wakePlanner)
	})
	if s.planner != nil {
		first.Go(func() { runPlanner(ctx, s.planner, s.db, s.planTel, s.planWake, s.planner.Logger) })
	}
	if s.prune != nil {
		first.Go(s.prune)
	}
	return func() {
		<-s.cron.Stop().Done()
		first.Wait()
	}
}

// wakePlanner has the planner step at once.
func (s *scheduler) wakePlanner() {
	select {
	case s.planWake <- struct{}{}:
	default:
	}
}

// tick is the scheduled job: a pass unless one is running.
func (s *scheduler) tick(ctx context.Context) {
	if !s.gate.run(func() { s.pass(ctx) }, false) {
		s.logger.Info("sync pass still running; skipping this tick")
	}
}

// pass runs a pass (the calls fetched alone) and refreshes the agents.
// Polls and list reads run in the planner, beside it: a long pass never
// holds them back. The process stays up whatever the API says: webhooks
// are still queued, /metrics shows it, and the next tick tries again.
func (s *scheduler) pass(ctx context.Context) {
	_, err := s.passes.run(ctx)
	if err == nil && ctx.Err() == nil {
		refreshAgents(ctx, s.agents, s.agentsLog) // after the pass: names never hold up calls
	}
	switch {
	case errors.Is(err, callsync.ErrUnauthorized):
		s.passLog.Error("the API refuses the key; trying again at the next tick", "hint", s.api.authError(err).Error())
	case errors.Is(err, api.ErrWrongURL):
		s.passLog.Error("the API URL is wrong; trying again at the next tick", "hint", s.api.urlError(err).Error())
	case errors.Is(err, callsync.ErrAPIUnavailable):
		s.passLog.Error("the Synthflow API cannot be reached; trying again at the next tick", attrAPIURL, s.api.url)
	}
}

// checkSchedule checks --schedule, with a hint for the mistakes people make.
func checkSchedule(schedule string) error {
	if _, err := cron.ParseStandard(schedule); err != nil {
		hint := "want cron syntax (*/5 * * * *) or @every DURATION (@every 5m)"
		if rest, ok := strings.CutPrefix(strings.TrimSpace(schedule), "every "); ok {
			hint = "did you mean \"@every " + strings.TrimSpace(rest) + "\"?"
		}
		return usagef("--schedule %q: %v; %s", schedule, err, hint)
	}
	return nil
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
