package sync_test

import (
	"net/http"
	gosync "sync"
	"testing"

	"github.com/callsync/callsync/api/apitest"
	callsync "github.com/callsync/callsync/sync"
)

// TestSyncer_ObserveBatch checks that a pass reports its outcomes batch by
// batch, as they are written, and that the batches add up to the pass.
func TestSyncer_ObserveBatch(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 21, Calls: 12})
	h := newHarness(t, calls)
	h.api.Script(calls[0].ID(), apitest.Step{Status: http.StatusServiceUnavailable})
	h.enqueue(ids(calls)...)
	var mu gosync.Mutex
	var batches []callsync.Stats
	s := h.syncer(callsync.Config{BatchSize: 4, Concurrency: 2})
	s.ObserveBatch = func(d callsync.Stats) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, d)
	}
	st, err := s.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var sum callsync.Stats
	for _, d := range batches {
		if d.Claimed != 0 || d.Rescued != 0 {
			t.Errorf("batch reports claims: %+v", d)
		}
		sum.Done += d.Done
		sum.Retrying += d.Retrying
		sum.Polling += d.Polling
		sum.Failed += d.Failed
		sum.Released += d.Released
		sum.Lost += d.Lost
		sum.RateLimited += d.RateLimited
		sum.Unchanged += d.Unchanged
	}
	if len(batches) < 3 {
		t.Errorf("%d batches observed for 12 calls in batches of 4, want 3 or more", len(batches))
	}
	sum.Claimed, sum.Rescued = st.Claimed, st.Rescued
	if sum != st {
		t.Errorf("batches add up to %+v, the pass to %+v", sum, st)
	}
}
