package sync_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// slowClaims makes every claim take a while, as it does on a busy
// database, and notes how many calls the API had served when each began.
type slowClaims struct {
	callsync.Queue
	api *apitest.Server

	mu     sync.Mutex
	served []int
}

func (q *slowClaims) Claim(ctx context.Context, limit int, lease time.Duration) (store.Lease, error) {
	q.mu.Lock()
	q.served = append(q.served, q.api.Counters().Endpoint(apitest.EndpointGetCall))
	q.mu.Unlock()
	time.Sleep(40 * time.Millisecond)
	return q.Queue.Claim(ctx, limit, lease)
}

// The next batch is claimed while the current one is being fetched, so
// that the fetch workers do not stand idle through every claim (a third of
// an unchanged re-sync's time in a bench); every row claimed ahead is
// fetched and stored.
func TestSyncer_ClaimsTheNextBatchWhileFetching(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 12, Calls: 300})
	h := newHarness(t, calls)
	h.api.SetFaults(apitest.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond})
	h.enqueue(ids(calls)...)
	q := &slowClaims{Queue: h.db, api: h.api}
	s := h.syncer(callsync.Config{BatchSize: 50, Concurrency: 4})
	s.Queue = q
	st, err := s.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != len(calls) || st.Released != 0 || st.Claimed != len(calls) {
		t.Fatalf("stats %+v, want all %d claimed once and done, none given back", st, len(calls))
	}
	// Claim k+1 (k ≥ 1) began before batch k had all been handed out,
	// that is before the API had served 50·k − 4 calls: the 4 workers
	// take the last rows of a batch only when the batch is handed out.
	early := 0
	for k := 1; k < len(q.served); k++ {
		if q.served[k] < 50*k-4 {
			early++
		}
	}
	t.Logf("calls served when each claim began: %v", q.served)
	if early < len(q.served)/2 {
		t.Errorf("%d of %d claims began while the batch before was being fetched, want most: %v", early, len(q.served)-1, q.served)
	}
}

// A pass that stops while a batch is being claimed ahead waits for the
// claim and gives the batch back untouched: no row stays running until
// its lease expires.
func TestSyncer_StopGivesBackTheBatchClaimedAhead(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 13, Calls: 60})
	h := newHarness(t, calls)
	h.api.SetFaults(apitest.Faults{LatencyMin: 20 * time.Millisecond, LatencyMax: 20 * time.Millisecond})
	h.enqueue(ids(calls)...)
	q := &slowClaims{Queue: h.db, api: h.api}
	s := h.syncer(callsync.Config{BatchSize: 10, Concurrency: 2})
	s.Queue = q
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	st, err := s.RunOnce(ctx)
	if err == nil {
		t.Fatal("RunOnce ended without the context's error")
	}
	pending, done := h.afterStop()
	if pending == 0 || pending+done != len(calls) || st.Released+st.Done != st.Claimed {
		t.Errorf("pending %d, done %d, stats %+v", pending, done, st)
	}
}
