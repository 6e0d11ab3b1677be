package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// maxRateLimitRetries is how often one call is asked for again, after the
// pause, when the API answers 429; then it goes back to the queue.
const maxRateLimitRetries = 3

// errPanic marks a failed attempt that was a panic in callsync.
var errPanic = errors.New("internal error (panic) while handling the call; see the worker's log")

// claimedRow is one claimed row as a fetch worker handles it.
type claimedRow struct {
	store.Claimed
	stopAt time.Time // the batch's: give the row back rather than wait past it
	log    *slog.Logger
}

// syncSafely is syncOne that turns a panic into a failed attempt of the
// call: the stack goes to the log, a short message to last_error, and the
// pass goes on with the other calls.
func (p *pass) syncSafely(b *batch, i int) (r result) {
	row := claimedRow{Claimed: b.lease.Rows[i], stopAt: b.stopAt}
	row.log = p.s.Logger.With(callIDAttr(row.CallID))
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		row.log.Error("panic while syncing a call; counting it as a failed attempt", "panic", fmt.Sprint(v),
			"stack", string(debug.Stack()))
		r = p.failure(row, fmt.Errorf("%w: %v", errPanic, v))
	}()
	return p.syncOne(row)
}

// syncOne fetches a claimed row's call and decides its outcome. On a
// refused key or an unusable API it stops the pass.
func (p *pass) syncOne(row claimedRow) result {
	pl, paused, err := p.get(row)
	switch {
	case paused != nil:
		return *paused
	case err == nil:
	case p.fetchCtx.Err() != nil:
		return result{}
	case errors.Is(err, api.ErrUnauthorized):
		p.stop(fmt.Errorf("%w: %w", ErrUnauthorized, err))
		return result{}
	case errors.Is(err, api.ErrWrongURL), errors.Is(err, api.ErrUnreachable):
		p.stop(fmt.Errorf("%w: %w", ErrAPIUnavailable, err))
		return result{}
	default:
		return p.failure(row, err)
	}

	// A payload byte for byte the same as the stored call's last one makes
	// the same rows: it is neither decoded nor written again.
	if known := row.Stored; known != nil && known.PayloadHash != nil {
		if hash := PayloadHash(pl.JSON); bytes.Equal(hash, known.PayloadHash) {
			row.log.Debug("call unchanged")
			o := store.Outcome{CallID: row.CallID, UnchangedHash: hash}
			return p.decide(row, o, known.Status, known.StartedAt)
		}
	}
	call, err := pl.Decode()
	if err != nil {
		return p.failure(row, err)
	}
	c, notes, err := Normalize(call)
	if note := plausibleStart(&c, p.s.now()); note != "" {
		notes = append(notes, note)
	}
	if err == nil {
		err = p.cfg.HashPhones.apply(&c)
	}
	if err != nil {
		return p.failure(row, fmt.Errorf("normalize call %s: %w", row.CallID, err))
	}
	if len(notes) > 0 {
		row.log.Warn("call stored with changes", "notes", strings.Join(notes, "; "))
	}
	return p.decide(row, store.Outcome{CallID: row.CallID, Call: &c}, c.Status, c.StartedAt)
}

// get fetches a row's call. A 429 is never the call's fault: it pauses
// every request (the API client's limiter does so for all processes sharing
// the key), then asks again, or gives the row back (paused) if that would
// outlast the batch.
func (p *pass) get(row claimedRow) (pl *api.Payload, paused *result, err error) {
	for try := 0; ; try++ {
		pl, err = p.s.getPayload(p.fetchCtx, row.CallID)
		if err == nil || !errors.Is(err, api.ErrRateLimited) || p.fetchCtx.Err() != nil {
			return pl, nil, err
		}
		pause := p.cfg.RateLimitPause
		var se *api.StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			pause = se.RetryAfter
		}
		p.s.pause(pause)
		if try == maxRateLimitRetries || p.s.now().Add(pause).After(row.stopAt) || p.s.waitPause(p.fetchCtx) != nil {
			return nil, &result{rateLimited, store.Outcome{CallID: row.CallID, State: store.StatePending,
				Delay: pause, Error: p.cfg.oneLine(err.Error())}}, err
		}
	}
}

// decide settles a call that was fetched and stored (o has its Call or
// UnchangedHash set) by its status and start time: done when the status is
// final, or when it has stayed otherwise for the maximum poll age; pending,
// to be fetched again later, when not.
func (p *pass) decide(row claimedRow, o store.Outcome, statusPtr *string, startedAt *time.Time) result {
	status := ""
	if statusPtr != nil {
		status = *statusPtr
	}
	if IsFinal(status) {
		row.log.Debug("call synced", "status", status)
		o.State = store.StateDone
		return result{done, o}
	}
	started := row.EnqueuedAt
	if startedAt != nil {
		started = *startedAt
	}
	if age := p.s.now().Sub(started); age >= p.cfg.MaxPollAge {
		row.log.Info("call status still not final after the maximum age; keeping it as is",
			"status", status, "age", age.Round(time.Minute))
		o.State = store.StateDone
		return result{done, o}
	}
	delay := pollDelay(p.cfg.Poll, row.Polls)
	row.log.Debug("call synced; status not final, fetching again later", "status", status, "delay", delay)
	o.State, o.Delay, o.Poll = store.StatePending, delay, true
	return result{polling, o}
}

// failure records a failed attempt: retried after a backoff, or failed once
// the call has used its attempts.
func (p *pass) failure(row claimedRow, err error) result {
	attempt, limit := row.Attempts+1, p.cfg.MaxAttempts
	if errors.Is(err, api.ErrNotFound) {
		limit = min(limit, p.cfg.NotFoundAttempts)
	}
	var body []byte
	if de := (*api.DecodeError)(nil); errors.As(err, &de) && p.cfg.HashPhones == nil {
		body = de.Body
	}
	msg := p.cfg.oneLine(fmt.Sprintf("attempt %d of %d: %v", attempt, limit, err))
	if attempt >= limit {
		row.log.Warn("call sync failed; giving up", attemptAttr(attempt), errAttr(err))
		return result{failed, store.Outcome{CallID: row.CallID, State: store.StateFailed, Attempt: true, Error: msg,
			BadBody: body}}
	}
	delay := max(p.cfg.Retry.Delay(attempt), time.Second)
	row.log.Warn("call sync failed; will retry", attemptAttr(attempt), "retry_in", delay.Round(time.Second), errAttr(err))
	return result{retrying, store.Outcome{CallID: row.CallID, State: store.StatePending, Delay: delay, Attempt: true,
		Error: msg, BadBody: body}}
}

// getPayload fetches a call alone, in a turn after the list reads (see
// Turns), counted as a get.
func (s *Syncer) getPayload(ctx context.Context, id string) (*api.Payload, error) {
	release, err := s.Turns.Take(ctx, PriorityRefetch)
	if err != nil {
		return nil, err
	}
	defer release()
	s.Spend.Add(PurposeGet)
	return s.API.GetPayload(ctx, id)
}
