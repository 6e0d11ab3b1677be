package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/lmittmann/tint"

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

// maxRateLimitRetries is how often one call is asked for again, after the
// pause, when the API answers 429; then it goes back to the queue.
const maxRateLimitRetries = 3

// syncSafely is syncOne that turns a panic into a failed attempt of the
// call: the stack goes to the log, a short message to last_error, and the
// pass goes on with the other calls.
func (s *Syncer) syncSafely(ctx context.Context, stop context.CancelCauseFunc, cfg Config, b *batch, i int, st *Stats) (r result) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		row := b.lease.Rows[i]
		log := s.Logger.With("call_id", row.CallID)
		log.Error("panic while syncing a call; counting it as a failed attempt", "panic", fmt.Sprint(v),
			"stack", string(debug.Stack()))
		r = s.failure(log, cfg, row, fmt.Errorf("%w: %v", errPanic, v), st)
	}()
	return s.syncOne(ctx, stop, cfg, b, i, st)
}

// errPanic marks a failed attempt that was a panic in callsync.
var errPanic = errors.New("internal error (panic) while handling the call; see the worker's log")

// syncOne fetches the i-th call of b and decides its outcome. On a refused
// key it cancels the pass through stop.
func (s *Syncer) syncOne(ctx context.Context, stop context.CancelCauseFunc, cfg Config, b *batch, i int, st *Stats) result {
	row := b.lease.Rows[i]
	log := s.Logger.With("call_id", row.CallID)
	var p *api.Payload
	var err error
	for try := 0; ; try++ {
		p, err = s.API.GetPayload(ctx, row.CallID)
		if err == nil || !errors.Is(err, api.ErrRateLimited) || ctx.Err() != nil {
			break
		}
		// A 429 is never the call's fault: pause every request (the API
		// client's limiter does so for all processes sharing the key), then
		// ask again, or give the row back if that would outlast the batch.
		pause := cfg.RateLimitPause
		var se *api.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			pause = se.RetryAfter
		}
		s.pause(pause)
		if try == maxRateLimitRetries || s.now().Add(pause).After(b.stopAt) || s.waitPause(ctx) != nil {
			return result{&store.Outcome{CallID: row.CallID, State: store.StatePending, Delay: pause,
				Error: oneLine(err.Error())}, &st.RateLimited}
		}
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return result{}
	case errors.Is(err, api.ErrUnauthorized):
		stop(fmt.Errorf("%w: %w", ErrUnauthorized, err))
		return result{}
	case errors.Is(err, api.ErrWrongURL), errors.Is(err, api.ErrUnreachable):
		stop(fmt.Errorf("%w: %w", ErrAPIUnavailable, err))
		return result{}
	default:
		return s.failure(log, cfg, row, err, st)
	}

	// A payload byte for byte the same as the stored call's last one makes
	// the same rows: it is neither decoded nor written again.
	if known := row.Stored; known != nil && known.PayloadHash != nil {
		if hash := PayloadHash(p.JSON); bytes.Equal(hash, known.PayloadHash) {
			log.Debug("call unchanged")
			o := &store.Outcome{CallID: row.CallID, Unchanged: hash}
			return s.decide(log, cfg, row, o, known.Status, known.StartedAt, st)
		}
	}
	call, err := p.Decode()
	if err != nil {
		return s.failure(log, cfg, row, err, st)
	}
	c, notes, err := Normalize(call)
	if err == nil {
		err = cfg.HashPhones.Apply(&c)
	}
	if err != nil {
		return s.failure(log, cfg, row, fmt.Errorf("normalize call %s: %w", row.CallID, err), st)
	}
	if len(notes) > 0 {
		log.Warn("call stored with changes", "notes", strings.Join(notes, "; "))
	}
	return s.decide(log, cfg, row, &store.Outcome{CallID: row.CallID, Call: &c}, c.Status, c.StartedAt, st)
}

// decide settles a call that was fetched and stored (o has its Call or
// Unchanged set) by its status and start time: done when the status is
// final, or when it has stayed otherwise for the maximum poll age; pending,
// to be fetched again later, when not.
func (s *Syncer) decide(log *slog.Logger, cfg Config, row store.Claimed, o *store.Outcome,
	statusPtr *string, startedAt *time.Time, st *Stats) result {
	status := ""
	if statusPtr != nil {
		status = *statusPtr
	}
	if IsFinal(status) {
		log.Debug("call synced", "status", status)
		o.State = store.StateDone
		return result{o, &st.Done}
	}
	started := row.EnqueuedAt
	if startedAt != nil {
		started = *startedAt
	}
	if age := s.now().Sub(started); age >= cfg.MaxPollAge {
		log.Info("call status still not final after the maximum age; keeping it as is",
			"status", status, "age", age.Round(time.Minute))
		o.State = store.StateDone
		return result{o, &st.Done}
	}
	delay := pollDelay(cfg.Poll, row.Polls)
	log.Debug("call synced; status not final, fetching again later", "status", status, "delay", delay)
	o.State, o.Delay, o.Poll = store.StatePending, delay, true
	return result{o, &st.Polling}
}

// failure records a failed attempt: retried after a backoff, or failed once
// the call has used its attempts.
func (s *Syncer) failure(log *slog.Logger, cfg Config, row store.Claimed, err error, st *Stats) result {
	attempt, limit := row.Attempts+1, cfg.MaxAttempts
	if errors.Is(err, api.ErrNotFound) {
		limit = min(limit, cfg.NotFoundAttempts)
	}
	var body []byte
	if de := (*api.DecodeError)(nil); errors.As(err, &de) && cfg.HashPhones == nil {
		body = de.Body
	}
	msg := oneLine(fmt.Sprintf("attempt %d of %d: %v", attempt, limit, err))
	if attempt >= limit {
		log.Warn("call sync failed; giving up", "attempt", attempt, tint.Err(err))
		return result{&store.Outcome{CallID: row.CallID, State: store.StateFailed, Attempt: true, Error: msg,
			BadBody: body}, &st.Failed}
	}
	delay := max(cfg.Retry.Delay(attempt), time.Second)
	log.Warn("call sync failed; will retry", "attempt", attempt, "retry_in", delay.Round(time.Second), tint.Err(err))
	return result{&store.Outcome{CallID: row.CallID, State: store.StatePending, Delay: delay, Attempt: true,
		Error: msg, BadBody: body}, &st.Retrying}
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

// oneLine folds an error message onto one line of at most 1000 bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "") + "…"
	}
	return s
}
