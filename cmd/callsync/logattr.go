package main

import "log/slog"

// Log attribute keys that more than one place in this package writes.
const (
	attrComponent = "component"
	attrCallID    = "call_id"
	attrTook      = "took"
	attrAPIURL    = "api_url"
)

// Components: each subsystem's logger carries one of these under
// attrComponent, so that a process's logs can be filtered by it.
const (
	componentPass       = "pass"       // the Syncer and each pass's summary
	componentPoll       = "poll"       // polling of list pages
	componentWebhook    = "webhook"    // the post-call webhook endpoint
	componentLimiter    = "limiter"    // the shared rate limiter
	componentBackfill   = "backfill"   // backfills from list pages
	componentAgents     = "agents"     // the agents table refresh
	componentRetention  = "retention"  // the daily prune
	componentHTTP       = "http"       // the HTTP server and its telemetry endpoints
	componentSchedule   = "schedule"   // the cron schedule and the wake-up on queued calls
	componentMigrate    = "migrate"    // schema migrations
	componentRun        = "run"        // run's own start and stop
	componentRollups    = "rollups"    // the folds of the daily rollups
	componentRecordings = "recordings" // the archiving of call recordings
)

// withComponent returns logger tagged with component (nil for nil, which
// store.Migrate takes as no logging). Call it once per subsystem, where
// the subsystem is wired.
func withComponent(logger *slog.Logger, component string) *slog.Logger {
	if logger == nil {
		return nil
	}
	return logger.With(attrComponent, component)
}
