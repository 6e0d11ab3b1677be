package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// planTelemetry holds the planner's metrics.
type planTelemetry struct {
	byPurpose *prometheus.CounterVec
	extras    prometheus.Gauge
}

// registerPlan registers the planner's metrics on t's registry.
func (t *telemetry) registerPlan() *planTelemetry {
	p := &planTelemetry{
		byPurpose: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_api_requests_by_purpose_total",
			Help: "Requests to the Synthflow API by what they were for: list (list pages: polls and reads that serve queue rows), get (calls fetched alone), extra (gets for the fields list pages lack), agents.",
		}, []string{"purpose"}),
		extras: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callsync_extras_backlog",
			Help: "Calls stored from list pages with a final status that a get from the budget left over would complete (custom_end_call_reason, prompt_variables).",
		}),
	}
	for _, purpose := range []string{callsync.PurposeList, callsync.PurposeGet, callsync.PurposeExtra, callsync.PurposeAgents} {
		p.byPurpose.WithLabelValues(purpose)
	}
	t.reg.MustRegister(p.byPurpose, p.extras)
	return p
}

// benchTimeScale compresses the planner's durations for benches that run a
// live workspace faster than real time (with the budget scaled alike); 1,
// always, in production.
var benchTimeScale = 1.0

// planErrorPause is how long the planner waits after a failed step: the
// API refused the key or cannot be reached, or the database failed.
const planErrorPause = 30 * time.Second

// extrasEvery spaces the readings of the extras backlog for /metrics.
const extrasEvery = 10 * time.Second

// Request counts by purpose are kept this long, and pruned this often.
const (
	keepRequestCounts  = 7 * 24 * time.Hour
	pruneRequestCounts = time.Hour
)

// runPlanner runs the planner's steps until ctx ends: each step when the
// last one says it is worth it, or at once when the database announces
// queued calls (wake). Request counts go to the store after each step.
//
// A step that fails because the API cannot be used (a refused key, a wrong
// URL, no connection) counts for the alerts through failed, and the planner
// then waits planErrorPause whatever wakes it: queued calls would otherwise
// start the same failing request every time a webhook arrives.
func runPlanner(ctx context.Context, p *callsync.Planner, db *store.DB, tel *planTelemetry, wake <-chan struct{}, logger *slog.Logger,
	failed func(cause string)) {
	var lastExtras, lastPrune time.Time
	for ctx.Err() == nil {
		if time.Since(lastPrune) >= pruneRequestCounts {
			lastPrune = time.Now()
			if err := db.PruneRequests(ctx, lastPrune.Add(-keepRequestCounts)); err != nil && ctx.Err() == nil {
				logger.Warn("old request counts not pruned", tint.Err(err))
			}
		}
		_, wait, err := p.Step(ctx)
		if err := p.Spend.Flush(context.WithoutCancel(ctx), db); err != nil {
			logger.Warn("request counts not written; kept for the next step", tint.Err(err))
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, callsync.ErrUnauthorized), errors.Is(err, callsync.ErrAPIUnavailable):
			logger.Error("planner: the API cannot be used; trying again later", "cause", passCause(err), "retry_in", planErrorPause,
				tint.Err(err))
			wait = planErrorPause
			if failed != nil {
				failed(passCause(err))
			}
		case err != nil:
			logger.Error("planner step failed; trying again later", "retry_in", planErrorPause, tint.Err(err))
			wait = planErrorPause
		}
		if tel != nil && time.Since(lastExtras) >= extrasEvery {
			lastExtras = time.Now()
			if n, err := db.Extras(ctx); err == nil {
				tel.extras.Set(float64(n))
			}
		}
		if wait <= 0 {
			continue
		}
		woken := wake
		if err != nil {
			woken = nil // a failed step waits its pause out
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-woken:
		}
		t.Stop()
	}
}

// countingLister counts the agent lists it sends as requests for agents.
type countingLister struct {
	l     callsync.ModelLister
	spend *callsync.Spend
}

func (c countingLister) ListAssistants(ctx context.Context, limit, offset int) (*api.AssistantPage, error) {
	c.spend.Add(callsync.PurposeAgents)
	return c.l.ListAssistants(ctx, limit, offset)
}
