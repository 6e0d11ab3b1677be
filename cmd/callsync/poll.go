package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// pollConfig holds the polling settings of run and poll.
type pollConfig struct {
	models    modelList
	envModels string // SYNC_POLL_MODELS, used when the flag is not given
	lookback  time.Duration
	// explain, when set, adds what to do about a failed poll's error to
	// its log line (run: the API's hint, and that the next tick retries).
	explain func(error) []any
}

func (c *pollConfig) register(f *flagSet, name string) {
	c.registerWith(f, name, callsync.DefaultPollLookback)
}

// registerWith registers the flags with lookback as --poll-lookback's default.
func (c *pollConfig) registerWith(f *flagSet, name string, lookback time.Duration) {
	c.envModels, _ = f.env("SYNC_POLL_MODELS")
	f.Var(&c.models, name, "agents (model_id) whose calls to poll, comma-separated or repeated [SYNC_POLL_MODELS]")
	f.durationVar(&c.lookback, "poll-lookback", "SYNC_POLL_LOOKBACK", lookback,
		"each poll lists calls started since the newest stored one minus this")
}

// validate checks the settings, after parsing; the flag's models replace
// the environment's.
func (c *pollConfig) validate() error {
	if len(c.models) == 0 {
		_ = c.models.Set(c.envModels) // Set never fails
	}
	if c.lookback <= 0 {
		return usagef("--poll-lookback (SYNC_POLL_LOOKBACK) must be positive")
	}
	return nil
}

// poller returns the poller, logging as componentPoll, or nil when no
// model is to be polled.
func (c *pollConfig) poller(client *api.Client, db *store.DB, logger *slog.Logger, cfg callsync.IntakeConfig) *callsync.Poller {
	if len(c.models) == 0 {
		return nil
	}
	return &callsync.Poller{API: client, Store: db, Logger: withComponent(logger, componentPoll), Lookback: c.lookback,
		Config: cfg}
}

// pollOnce polls the models once and logs the outcome to p's logger.
func (c *pollConfig) pollOnce(ctx context.Context, p *callsync.Poller) (callsync.PollStats, error) {
	logger := p.Logger
	start := time.Now()
	st, err := p.Poll(ctx, c.models)
	attrs := []any{attrTook, time.Since(start).Round(time.Millisecond), "models", st.Models, "failed", st.Failed,
		"requests", st.Requests, "calls", st.Calls, "unchanged", st.Unchanged, "enqueued", st.Enqueued, "erased", st.Erased, "rejected", st.Rejected}
	switch {
	case err == nil:
		logger.Info("poll done", attrs...)
	case errors.Is(err, context.Canceled):
		logger.Info("poll stopped", attrs...)
	default:
		if c.explain != nil {
			attrs = append(attrs, c.explain(err)...)
		}
		logger.Error("poll failed", append(attrs, errAttr(err))...)
	}
	return st, err
}

func runPoll(ctx context.Context, args []string, e env) error {
	f := newFlagSet("poll", "poll (--model-id M,... | --all-models) [flags]\n\n"+
		"Lists each agent's calls started since its watermark minus --poll-lookback (GET /v2/calls), stores them,\n"+
		"queues those whose status is not final, and advances the watermark. For crontabs; callsync run\n"+
		"--poll-models polls before every pass.", e)
	var lc logConfig
	var dc dbConfig
	var ac apiConfig
	var pc pollConfig
	var ic listIntakeConfig
	var allModels bool
	lc.register(f, "info")
	dc.register(f)
	ac.register(f)
	pc.register(f, "model-id")
	f.BoolVar(&allModels, "all-models", false, "every agent of the workspace (GET /v2/assistants)")
	ic.register(f, "")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := pc.validate(); err != nil {
		return err
	}
	cfg, err := ic.config()
	if err != nil {
		return err
	}
	switch {
	case allModels && len(pc.models) > 0:
		return usagef("poll: give --model-id or --all-models, not both")
	case len(pc.models) == 0 && !allModels:
		return usagef("poll: give --model-id (comma-separated or repeated), SYNC_POLL_MODELS or --all-models")
	}
	logger, db, client, err := openAPI(ctx, e, &lc, dc, &ac)
	if err != nil {
		return err
	}
	defer db.Close()
	if allModels {
		var sent int
		models, err := callsync.AllModels(ctx, client, callsync.IntakeConfig{MaxPollAge: cfg.MaxPollAge}, &sent)
		if err != nil {
			return apiError(ac, err)
		}
		if len(models) == 0 {
			return fmt.Errorf("poll: the workspace has no agents (GET /v2/assistants listed none)")
		}
		pc.models = models
	}
	st, err := pc.pollOnce(ctx, pc.poller(client, db, logger, cfg))
	foldRollups(ctx, db, withComponent(logger, componentRollups))
	printPoll(e.stdout, st, len(pc.models))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("poll stopped before the end: %w", err)
		}
		return apiError(ac, err)
	}
	return nil
}

// printPoll prints a poll's summary; models is how many were to be polled.
func printPoll(w io.Writer, st callsync.PollStats, models int) {
	fmt.Fprintf(w, "poll: %d of %d models polled to the end", st.Models, models)
	if st.Failed > 0 {
		fmt.Fprintf(w, " (%d failed)", st.Failed)
	}
	fmt.Fprintf(w, ", %d calls stored (%d unchanged), %d queued for a fetch, %d list requests",
		st.Calls, st.Unchanged, st.Enqueued, st.Requests)
	if st.Rejected > 0 {
		fmt.Fprintf(w, ", %d entries with a call id no intake accepts skipped", st.Rejected)
	}
	if st.Erased > 0 {
		fmt.Fprintf(w, ", %d erased calls skipped", st.Erased)
	}
	fmt.Fprintln(w)
}

// intakeConfig holds run's intake besides the queue: polling before each
// pass, and the webhook endpoint on --http-addr.
type intakeConfig struct {
	poll        pollConfig
	webhook     webhookConfig
	pollEvery   time.Duration
	extrasEvery time.Duration
	serve       bool // the webhook endpoint is mounted
}

func (c *intakeConfig) register(f *flagSet) {
	d := callsync.DefaultPlannerConfig()
	c.poll.registerWith(f, "poll-models", d.Lookback)
	c.webhook.register(f)
	f.durationVar(&c.pollEvery, "poll-every", "SYNC_POLL_EVERY", d.PollEvery,
		"each polled agent is listed at least this often (more often while its calls are due)")
	f.durationVar(&c.extrasEvery, "extras-every", "SYNC_EXTRAS_EVERY", d.ExtraEvery,
		"from the budget left over, fetch one call stored from a list page alone this often, for the fields list pages lack (0: never)")
}

// validate checks the settings; the webhook's only when run serves HTTP on
// httpAddr.
func (c *intakeConfig) validate(httpAddr string) error {
	if err := c.poll.validate(); err != nil {
		return err
	}
	if c.pollEvery < time.Second {
		return usagef("--poll-every (SYNC_POLL_EVERY) %v: want at least 1s", c.pollEvery)
	}
	if c.extrasEvery < 0 {
		return usagef("--extras-every (SYNC_EXTRAS_EVERY) %v: want 0 (never) or more", c.extrasEvery)
	}
	if httpAddr == "" || c.webhook.path == "" {
		return nil
	}
	c.serve = true
	return c.webhook.load()
}

// planner builds run's planner: list reads for due rows and polls of the
// models, sharing w's turns and request counts.
func (c *intakeConfig) planner(w *worker, logger *slog.Logger, cfg callsync.IntakeConfig) *callsync.Planner {
	pc := callsync.DefaultPlannerConfig()
	pc.PollEvery, pc.Lookback, pc.RequestsPerSecond = c.pollEvery, c.poll.lookback, w.syncer.Config.RequestsPerSecond
	pc.ExtraEvery, pc.Webhooks = c.extrasEvery, c.serve
	if pc.ExtraEvery == 0 {
		pc.ExtraEvery = -1
	}
	p := &callsync.Planner{API: w.client, Store: w.db, Logger: withComponent(logger, componentPoll), Config: pc.Scaled(benchTimeScale),
		Intake: cfg, Models: c.poll.models, Turns: w.turns, Spend: w.spend}
	p.Logger.Info("planner running", "models_polled", len(c.poll.models), "poll_every", c.pollEvery,
		"lookback", c.poll.lookback, "extras_every", c.extrasEvery)
	return p
}

// mount serves the webhook on mux, when it is on.
func (c *intakeConfig) mount(mux *http.ServeMux, db *store.DB, tel *telemetry, logger *slog.Logger) {
	if c.serve {
		c.webhook.mount(mux, db, tel, logger)
	}
}
