package sync_test

import (
	"testing"

	callsync "github.com/callsync/callsync/sync"
)

// TestStats_ByOutcome checks that ByOutcome counts exactly Outcomes, each
// from its own field of Stats.
func TestStats_ByOutcome(t *testing.T) {
	st := callsync.Stats{Done: 1, Polling: 2, Retrying: 3, Failed: 4, RateLimited: 5, Released: 6, Lost: 7,
		Claimed: 100, Unchanged: 100, Rescued: 100, Erased: 100}
	got := st.ByOutcome()
	want := map[string]int{callsync.OutcomeDone: 1, callsync.OutcomePolling: 2, callsync.OutcomeRetrying: 3,
		callsync.OutcomeFailed: 4, callsync.OutcomeRateLimited: 5, callsync.OutcomeReleased: 6, callsync.OutcomeLost: 7}
	if len(got) != len(callsync.Outcomes) || len(got) != len(want) {
		t.Fatalf("ByOutcome = %v, Outcomes = %v", got, callsync.Outcomes)
	}
	for _, o := range callsync.Outcomes {
		if got[o] != want[o] {
			t.Errorf("ByOutcome()[%q] = %d, want %d", o, got[o], want[o])
		}
	}
}
