package sync

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// ErrUnauthorized is returned by RunOnce when the API refuses the key. The
// pass stops at once and every claimed row goes back to the queue untouched.
var ErrUnauthorized = errors.New("sync: the Synthflow API refused the API key")

// ErrAPIUnavailable is returned by RunOnce, backfill and poll when the API
// cannot be used at all: the base URL leads to no endpoint of the API
// (api.ErrWrongURL: a redirect, an unmatched route) or its host cannot be
// reached (api.ErrUnreachable). It is no call's fault: the pass stops, no
// attempt is counted, and claimed rows go back to the queue untouched. The
// error wraps the API's, so errors.Is tells the two apart.
var ErrAPIUnavailable = errors.New("sync: the Synthflow API cannot be used at its URL")

// Fetcher fetches one call object from the calls API, not yet decoded.
// *api.Client implements it.
type Fetcher interface {
	GetPayload(ctx context.Context, id string) (*api.Payload, error)
}

// Queue is the part of *store.DB that a sync pass uses.
type Queue interface {
	RescueExpired(ctx context.Context, maxAttempts int) (int, error)
	Claim(ctx context.Context, limit int, lease time.Duration) (store.Lease, error)
	Complete(ctx context.Context, token int64, outcomes []store.Outcome) (store.CompleteResult, error)
	Release(ctx context.Context, token int64, ids []string) error
}

// Syncer runs sync passes: claim due queue rows, fetch each call, store it
// and settle its queue row. Its fields are set before the first pass and
// not changed after. It is safe for concurrent passes, though callsync never
// overlaps them.
type Syncer struct {
	Queue  Queue
	API    Fetcher
	Logger *slog.Logger
	Config Config
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ObserveWrite, when set, is called after each batch is settled with how
	// long the write took and how many queue rows it settled. For metrics;
	// batches are written two at a time, so it must be safe for concurrent use.
	ObserveWrite func(took time.Duration, rows int)
	// ObserveBatch, when set, is called after each batch is settled with
	// the outcomes it added to the pass's Stats (Claimed and Rescued stay 0),
	// so that metrics move while a long pass runs. It must be safe for
	// concurrent use.
	ObserveBatch func(Stats)
	// Turns orders this Syncer's requests after a Planner's; nil: no order.
	Turns *Turns
	// Spend counts its requests; nil: not counted.
	Spend *Spend

	pauseMu    sync.Mutex
	pauseUntil time.Time
}

// Stats counts what a pass did.
type Stats struct {
	Rescued     int // expired leases taken back before the pass
	Claimed     int // rows claimed
	Done        int // calls stored with a final status
	Unchanged   int // of the calls stored, those whose payload had not changed
	Polling     int // calls stored with a status that is not final, to fetch again
	Retrying    int // failures that will be tried again
	Failed      int // failures that gave up
	RateLimited int // rows put back because the API answered 429
	Released    int // rows given back unprocessed (shutdown, auth failure, lease running out, stored call changed meanwhile)
	Lost        int // rows whose lease another worker took over
	Erased      int // claimed calls erased (callsync forget) before they were stored: not stored, rows deleted
}

// pause holds back every request of this Syncer for d.
func (s *Syncer) pause(d time.Duration) {
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	if until := s.now().Add(d); until.After(s.pauseUntil) {
		s.pauseUntil = until
	}
}

// waitPause blocks while requests are paused.
func (s *Syncer) waitPause(ctx context.Context) error {
	for {
		s.pauseMu.Lock()
		wait := s.pauseUntil.Sub(s.now())
		s.pauseMu.Unlock()
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// maxErrorText bounds an error kept in last_error.
const maxErrorText = 1000

// oneLine folds an error message onto one line of at most maxErrorText
// bytes, for last_error. The cut goes through Redact (see
// api.Redactor.Cut): a secret it split would escape redaction.
func (c Config) oneLine(s string) string {
	return c.Redact.Cut(strings.Join(strings.Fields(c.Redact.Cut(s, 4*maxErrorText)), " "), maxErrorText)
}
