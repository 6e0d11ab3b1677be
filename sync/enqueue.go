package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callsync/callsync/store"
)

// Rejected is a call id that Enqueue refused, with the reason.
type Rejected struct {
	ID     string
	Reason error
}

// EnqueueReport says what Enqueue did with its ids.
type EnqueueReport struct {
	store.EnqueueResult
	Duplicates int        // ids given more than once, counted once
	Rejected   []Rejected // malformed ids, not queued
}

// enqueueChunk bounds one statement: big backfills enqueue in pieces.
const enqueueChunk = 10000

// Enqueue validates ids and queues the valid ones, each once. Malformed ids
// are reported in Rejected and do not stop the others; erased calls
// (callsync forget) are not queued and are reported in Erased. It returns an error
// only when the queue cannot be written; chunks written before it stay.
func Enqueue(ctx context.Context, q *store.DB, ids []string) (EnqueueReport, error) {
	var rep EnqueueReport
	seen := make(map[string]bool, len(ids))
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := ValidateCallID(id); err != nil {
			rep.Rejected = append(rep.Rejected, Rejected{ID: id, Reason: err})
			continue
		}
		if seen[id] {
			rep.Duplicates++
			continue
		}
		seen[id] = true
		valid = append(valid, id)
	}
	for len(valid) > 0 {
		n := min(len(valid), enqueueChunk)
		res, err := q.Enqueue(ctx, valid[:n])
		rep.Added += res.Added
		rep.Requeued += res.Requeued
		rep.Erased = append(rep.Erased, res.Erased...)
		if err != nil {
			return rep, err
		}
		valid = valid[n:]
	}
	return rep, nil
}

// HookQueue queues calls announced by webhooks. *store.DB implements it.
type HookQueue interface {
	EnqueueHookHint(ctx context.Context, id string, h store.Hint, list bool, cooldown time.Duration) (string, error)
}

// hookClockSkew is how far in the future a webhook's start time may be
// and still be believed.
const hookClockSkew = time.Minute

// EnqueueHook validates a call id from a webhook and queues it under the
// replay cooldown (see store.DB.EnqueueHookHint), with what the webhook
// said of the call's agent and start as a hint: a call whose hint is
// usable (an agent id, a start less than maxListAge ago) is served by a
// list read of that agent, else by a get. The body is not signed, so a
// wrong hint costs at most a fallback request, never a wrong row: a list
// read settles a row only by its own call id. It returns store.HookAdded,
// HookQueued, HookIgnored or HookErased, an error wrapping ErrBadCallID
// for a malformed id, or the queue's error.
func EnqueueHook(ctx context.Context, q HookQueue, id string, hint store.Hint, maxListAge time.Duration, cooldown time.Duration) (string, error) {
	if err := ValidateCallID(id); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadCallID, err)
	}
	if hint.ModelID != "" && ValidateCallID(hint.ModelID) != nil {
		hint.ModelID = "" // ids of agents look like ids of calls
	}
	now := time.Now()
	if hint.StartedAt.After(now.Add(hookClockSkew)) || !hint.StartedAt.After(now.Add(-maxListAge)) {
		hint.StartedAt = time.Time{}
	}
	list := hint.ModelID != "" && !hint.StartedAt.IsZero()
	return q.EnqueueHookHint(ctx, id, hint, list, cooldown)
}

// ErrBadCallID is matched by EnqueueHook's error for a malformed call id.
var ErrBadCallID = errors.New("sync: malformed call id")
