package main

import (
	"log/slog"
	"strings"

	"github.com/lmittmann/tint"
)

// Log attribute keys that more than one place in this package writes.
const (
	attrComponent = "component"
	attrCallID    = "call_id"
	attrTook      = "took"
	attrAPIURL    = "api_url"
	// attrAPIPausedFor: how long requests with the key stay paused after a 429.
	attrAPIPausedFor = "api_paused_for"
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

// errAttr is tint.Err with the message on one line: errors that join
// others (a connection tried at several addresses) carry newlines and
// tabs, which split a log line in two for whoever reads or ships it.
func errAttr(err error) slog.Attr {
	if err == nil {
		return tint.Err(nil)
	}
	return tint.Err(oneLineError{err})
}

// oneLineError is an error whose message is folded onto one line; it
// unwraps to the original.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return oneLine(e.err.Error()) }
func (e oneLineError) Unwrap() error { return e.err }

// oneLine folds s onto one line, runs of white space made one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
