package sync

// Outcomes of claimed calls, as Stats counts them. Metrics label calls
// with these names.
const (
	OutcomeDone        = "done"         // stored with a final status (Stats.Done)
	OutcomePolling     = "polling"      // stored with a status that is not final (Stats.Polling)
	OutcomeRetrying    = "retrying"     // failed, to be tried again (Stats.Retrying)
	OutcomeFailed      = "failed"       // failed, given up (Stats.Failed)
	OutcomeRateLimited = "rate_limited" // put back after a 429 (Stats.RateLimited)
	OutcomeReleased    = "released"     // given back unprocessed (Stats.Released)
	OutcomeLost        = "lost"         // lease taken over by another worker (Stats.Lost)
)

// Outcomes lists every outcome that ByOutcome counts, in a fixed order.
var Outcomes = []string{OutcomeDone, OutcomePolling, OutcomeRetrying, OutcomeFailed,
	OutcomeRateLimited, OutcomeReleased, OutcomeLost}

// ByOutcome returns what s counts of each of Outcomes.
func (s Stats) ByOutcome() map[string]int {
	return map[string]int{
		OutcomeDone:        s.Done,
		OutcomePolling:     s.Polling,
		OutcomeRetrying:    s.Retrying,
		OutcomeFailed:      s.Failed,
		OutcomeRateLimited: s.RateLimited,
		OutcomeReleased:    s.Released,
		OutcomeLost:        s.Lost,
	}
}
