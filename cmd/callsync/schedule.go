package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lmittmann/tint"
	"github.com/robfig/cron/v3"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// scheduler runs run's jobs: a pass (after a poll, before an agents
// refresh) at start, on the schedule and when calls are queued, never two
// at once; and retention once a day.
type scheduler struct {
	cron   *cron.Cron
	passID cron.EntryID
	gate   passGate // shared by the schedule and the wake-up
	// held is set by a failed pass and cleared by the next tick: until
	// then, wake-ups start no pass. A failure that is nobody's call (a
	// wrong URL, a refused key, the database) gives its rows back, and
	// those would wake the worker again at once: the same failure every
	// second or two, each spending requests.
	held      atomic.Bool
	passes    *passRunner
	planner   *callsync.Planner
	planTel   *planTelemetry
	planWake  chan struct{} // queued calls: the planner steps at once
	api       *apiConfig
	agents    *callsync.AgentRefresher
	db        *store.DB
	prune     func() // nil: no retention
	logger    *slog.Logger
	agentsLog *slog.Logger
}

// newScheduler schedules the passes and, when retention is set, the
// daily prune. Nothing runs before start.
func newScheduler(ctx context.Context, c *runConfig, w *worker, planner *callsync.Planner, logger *slog.Logger) (*scheduler, error) {
	s := &scheduler{
		passes:    newPassRunner("run", w, logger, c.runs),
		planner:   planner,
		planTel:   w.plan,
		planWake:  make(chan struct{}, 1),
		api:       &c.api,
		agents:    &callsync.AgentRefresher{Lister: countingLister{w.client, w.spend}, Store: w.db, Interval: c.agentsEvery},
		db:        w.db,
		logger:    withComponent(logger, componentSchedule),
		agentsLog: withComponent(logger, componentAgents),
	}
	s.passes.next = "the next tick"
	s.passes.explain = func(err error) []any {
		if h := s.api.hint(err); h != "" {
			return []any{"hint", h}
		}
		return nil
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
		wakeOnQueued(ctx, s.db, s.logger, &s.gate, func() { s.wokenPass(ctx) }, s.wakePlanner)
	})
	if s.planner != nil {
		first.Go(func() {
			runPlanner(ctx, s.planner, s.db, s.planTel, s.planWake, s.planner.Logger, s.passes.tel.observeFailure)
		})
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
	s.held.Store(false) // the next tick has come: what failed is tried again
	if !s.gate.run(func() { s.pass(ctx) }, false) {
		s.logger.Info("sync pass still running; skipping this tick")
	}
}

// wokenPass is the pass a wake-up starts: none while a failed pass holds
// passes back until the next tick.
func (s *scheduler) wokenPass(ctx context.Context) {
	if s.held.Load() {
		s.logger.Debug("calls queued; no pass before the next tick: the last one failed")
		return
	}
	_, err := s.passes.runWoken(ctx)
	s.settle(ctx, err)
}

// pass runs a pass (the calls fetched alone) and refreshes the agents.
// Polls and list reads run in the planner, beside it: a long pass never
// holds them back. The process stays up whatever the API says: webhooks
// are still queued, /metrics shows it, and the next tick tries again.
// Each failure is logged once, where it happened: by the planner or by
// the pass.
func (s *scheduler) pass(ctx context.Context) {
	if s.held.Load() { // run again for a wake-up that came while a pass failed
		s.logger.Debug("calls queued; no pass before the next tick: the last one failed")
		return
	}
	_, err := s.passes.run(ctx)
	if err == nil && ctx.Err() == nil {
		refreshAgents(ctx, s.agents, s.agentsLog) // after the pass: names never hold up calls
	}
	s.settle(ctx, err)
}

// settle holds wake-ups back until the next tick when a pass failed.
func (s *scheduler) settle(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil && passResult(err) == "failed" {
		s.held.Store(true)
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
