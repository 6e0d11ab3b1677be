package sync

import (
	"context"
	"sync"
)

// Purposes of API requests, as Spend counts them.
const (
	PurposeList   = "list"   // list pages: polls and list reads that serve queue rows
	PurposeGet    = "get"    // calls fetched alone
	PurposeExtra  = "extra"  // gets for the fields list pages lack
	PurposeAgents = "agents" // agent lists
)

// Spend counts API requests by purpose: for metrics (Observe), and for
// status (Flush writes the counts to the store). A nil *Spend counts
// nothing. It is safe for concurrent use.
type Spend struct {
	// Observe, when set, is told of each request counted.
	Observe func(purpose string)

	mu      sync.Mutex
	pending map[string]int64
}

// SpendStore keeps request counts. *store.DB implements it.
type SpendStore interface {
	AddRequests(ctx context.Context, byPurpose map[string]int64) error
}

// Add counts one request of purpose.
func (s *Spend) Add(purpose string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[string]int64{}
	}
	s.pending[purpose]++
	s.mu.Unlock()
	if s.Observe != nil {
		s.Observe(purpose)
	}
}

// Flush writes the counts not yet written to st; on an error they are
// kept for the next Flush.
func (s *Spend) Flush(ctx context.Context, st SpendStore) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	counts := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	if err := st.AddRequests(ctx, counts); err != nil {
		s.mu.Lock()
		if s.pending == nil {
			s.pending = map[string]int64{}
		}
		for p, n := range counts {
			s.pending[p] += n
		}
		s.mu.Unlock()
		return err
	}
	return nil
}
