package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Outcomes of SaveHookJudgements.
const (
	HookJudgementsStored   = "stored"   // the call is stored: its judgements were replaced
	HookJudgementsStaged   = "staged"   // the call is not stored yet: they wait on its queue row
	HookJudgementsErased   = "erased"   // the call was erased (callsync forget): dropped
	HookJudgementsPruned   = "pruned"   // retention pruned the call's details: dropped
	HookJudgementsUnqueued = "unqueued" // neither stored nor queued: nowhere to wait, dropped
)

// errNoJudgements is SaveHookJudgements's error for an empty set, which
// must never replace stored judgements.
var errNoJudgements = errors.New("no judgements")

// hookJudgements is the JSON of sync_queue.webhook_judgements.
type hookJudgements struct {
	AnsweredByHuman *string           `json:"answered_by_human"`
	Judgements      []stagedJudgement `json:"judgements"`
}

type stagedJudgement struct {
	Criterion string  `json:"criterion"`
	Result    *string `json:"result"`
	Value     *string `json:"value"`
	Feedback  *string `json:"feedback"`
}

func (h hookJudgements) rows() []Judgement {
	out := make([]Judgement, len(h.Judgements))
	for i, j := range h.Judgements {
		out[i] = Judgement(j)
	}
	return out
}

// lockHookRowSQL locks the call's queue row: Complete holds it while it
// writes the call, so the call is either written before the lock is
// granted, and then seen stored, or written after the judgements wait on
// the row, and then written with them.
const lockHookRowSQL = `SELECT true FROM sync_queue WHERE call_id = $1 FOR UPDATE`

// hookTargetSQL says whether the call is erased, and whether it is stored
// (NULL when not) with its details pruned.
const hookTargetSQL = `
SELECT EXISTS (SELECT FROM erased_calls WHERE call_id = $1),
       (SELECT details_pruned_at IS NOT NULL FROM calls WHERE call_id = $1)`

const stageHookJudgementsSQL = `
UPDATE sync_queue SET webhook_judgements = $2, webhook_judged_at = now() WHERE call_id = $1`

// SaveHookJudgements stores the judgements of a verified post-call webhook
// (its analysis object) for call id, with answeredByHuman as in
// Call.AnsweredByHuman, and returns what became of them (HookJudgements*).
//
// The set received last wins, whole. When the call is stored, the set
// replaces its judgements at once, through the same write as a fetched
// call's (its payload_hash is cleared, so the next fetch writes the call in
// full). When it is not, the set waits on the call's queue row
// (sync_queue.webhook_judgements, replacing one that waited) and is written
// with the call by SaveCalls, Complete or SaveCallSlow, unless that payload
// carries judgements of its own: fetched after the webhook, they win. A
// later payload without judgements never erases them. Erased calls, calls
// whose details retention pruned, and calls without a queue row get
// nothing. It returns an error for an empty set, and when the database
// fails.
func (db *DB) SaveHookJudgements(ctx context.Context, id string, js []Judgement, answeredByHuman *string) (string, error) {
	if len(js) == 0 {
		return "", fmt.Errorf("save webhook judgements of call %s: %w", id, errNoJudgements)
	}
	var outcome string
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if err := lockWrites(ctx, tx); err != nil {
			return err
		}
		if err := lockCalls(ctx, tx, []string{id}); err != nil {
			return err
		}
		var queued bool
		if err := tx.QueryRow(ctx, lockHookRowSQL, id).Scan(&queued); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lock queue row: %w", err)
		}
		var erased bool
		var pruned *bool
		if err := tx.QueryRow(ctx, hookTargetSQL, id).Scan(&erased, &pruned); err != nil {
			return fmt.Errorf("find call: %w", err)
		}
		switch {
		case erased:
			outcome = HookJudgementsErased
		case pruned != nil && *pruned:
			outcome = HookJudgementsPruned
		case pruned != nil:
			c := &Call{ID: id, Judgements: js, AnsweredByHuman: answeredByHuman}
			if _, err := writeCalls(ctx, tx, []*Call{c}); err != nil {
				return err
			}
			outcome = HookJudgementsStored
		case queued:
			h := hookJudgements{AnsweredByHuman: answeredByHuman, Judgements: make([]stagedJudgement, len(js))}
			for i, j := range js {
				h.Judgements[i] = stagedJudgement(j)
			}
			b, err := json.Marshal(h)
			if err != nil {
				return err // strings and pointers to them always marshal
			}
			if _, err := tx.Exec(ctx, stageHookJudgementsSQL, id, b); err != nil {
				return fmt.Errorf("keep judgements on the queue row: %w", err)
			}
			outcome = HookJudgementsStaged
		default:
			outcome = HookJudgementsUnqueued
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("save webhook judgements of call %s: %w", id, err)
	}
	return outcome, nil
}

// lockHookJudgementsSQL finds the judgements waiting on the queue rows of
// the calls $1, and locks those rows, in call_id order, so that a webhook
// storing judgements for one of the calls (SaveHookJudgements) either
// finishes first, and its judgements are found, or waits and then finds
// the call stored. clearHookJudgementsSQL then clears what was found. A
// plain SELECT when nothing waits, the usual case: an UPDATE would fire the
// queue's statement trigger on every write.
const lockHookJudgementsSQL = `
SELECT call_id, webhook_judgements FROM sync_queue
WHERE  call_id = ANY($1::text[]) AND webhook_judgements IS NOT NULL
ORDER  BY call_id FOR UPDATE`

const clearHookJudgementsSQL = `
UPDATE sync_queue SET webhook_judgements = NULL, webhook_judged_at = NULL WHERE call_id = ANY($1::text[])`

// withHookJudgements gives each call whose judgements waited on its queue
// row (see SaveHookJudgements) those judgements, unless an occurrence of
// the call in calls carries judgements of its own: those were fetched after
// the webhook arrived, and win. The call is copied, without its payload
// hash: the stored call is then more than its payload, and a call with
// judgements to write must never be skipped as unchanged.
func (g guard) withHookJudgements(calls []*Call) []*Call {
	if len(g.hooked) == 0 {
		return calls
	}
	own := map[string]bool{}
	for _, c := range calls {
		if c.Judgements != nil {
			own[c.ID] = true
		}
	}
	out := make([]*Call, len(calls))
	copy(out, calls)
	given := map[string]bool{}
	for i, c := range out {
		h, ok := g.hooked[c.ID]
		if !ok || own[c.ID] || given[c.ID] || len(h.Judgements) == 0 {
			continue
		}
		given[c.ID] = true
		cp := *c
		cp.Judgements, cp.AnsweredByHuman, cp.PayloadHash = h.rows(), h.AnsweredByHuman, nil
		out[i] = &cp
	}
	return out
}
