package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// privacyLock is the advisory lock that orders erasure, pruning and
// sharing of variables against the writes of calls. Every transaction that
// writes calls takes it shared, first; Forget, Prune and the variable
// commands take it exclusive. So a write either ends before an erasure
// starts, and the erasure deletes what it wrote, or starts after the
// erasure committed, and sees its tombstones (each statement of a READ
// COMMITTED transaction sees what committed before it began). The same
// goes for pruned calls and shared variables.
const privacyLock = 0x63616c6c73796e63 // "callsync"

const lockWritesSQL = `SELECT pg_advisory_xact_lock_shared($1)`

const lockPrivacySQL = `SELECT pg_advisory_xact_lock($1)`

// lockWrites takes the privacy lock shared, for a transaction that writes
// calls. It must come before the transaction locks any row.
func lockWrites(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, lockWritesSQL, int64(privacyLock)); err != nil {
		return fmt.Errorf("lock against erasure: %w", err)
	}
	return nil
}

// lockPrivacy takes the privacy lock exclusive: writes of calls wait.
func lockPrivacy(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, lockPrivacySQL, int64(privacyLock)); err != nil {
		return fmt.Errorf("lock out writes: %w", err)
	}
	return nil
}

// The numbers are compared by pseudonym, computed only when some number
// was erased: most databases have none.
const guardSQL = `
WITH hooked AS (` + lockHookJudgementsSQL + `)
SELECT (SELECT coalesce(array_agg(call_id), '{}') FROM erased_calls WHERE call_id = ANY($1::text[])),
       (SELECT coalesce(array_agg(name), '{}') FROM shared_variables),
       (SELECT coalesce(jsonb_object_agg(call_id, webhook_judgements), '{}') FROM hooked),
       (SELECT coalesce(array_agg(DISTINCT u.id), '{}') FROM unnest($2::text[], $3::text[]) AS u(id, number)
        WHERE  EXISTS (SELECT FROM erased_numbers)
          AND  callsync_pseudonym(u.number) IN (SELECT number_pseudonym FROM erased_numbers))`

// tombstoneByNumberSQL tombstones calls found to be from or to an erased
// number, so that no intake path queues or fetches them again.
const tombstoneByNumberSQL = `
INSERT INTO erased_calls (call_id) SELECT unnest($1::text[]) ON CONFLICT (call_id) DO NOTHING`

// guard is what a write must honour besides the stored calls: the erased
// calls among those written, the variables whose values are shared, and
// the judgements of verified webhooks that waited for the calls.
type guard struct {
	erased map[string]bool
	shared map[string]bool
	hooked map[string]hookJudgements
}

// loadGuard reads the guard of calls, in one round trip (two when
// judgements of webhooks waited for some of them: it takes those, see
// withHookJudgements, and the transaction must write them or roll back).
func loadGuard(ctx context.Context, tx pgx.Tx, calls []*Call) (guard, error) {
	ids := make([]string, len(calls))
	var numberIDs, numbers []string
	for i, c := range calls {
		ids[i] = c.ID
		for _, n := range c.Numbers {
			numberIDs, numbers = append(numberIDs, c.ID), append(numbers, n)
		}
	}
	var erased, shared, byNumber []string
	var hooked []byte
	if err := tx.QueryRow(ctx, guardSQL, ids, numberIDs, numbers).Scan(&erased, &shared, &hooked, &byNumber); err != nil {
		return guard{}, fmt.Errorf("find erased calls: %w", err)
	}
	if len(byNumber) > 0 {
		if _, err := tx.Exec(ctx, tombstoneByNumberSQL, byNumber); err != nil {
			return guard{}, fmt.Errorf("tombstone calls of erased numbers: %w", err)
		}
		erased = append(erased, byNumber...)
	}
	g := guard{erased: make(map[string]bool, len(erased)), shared: make(map[string]bool, len(shared))}
	if len(hooked) > 2 { // not {}
		if err := json.Unmarshal(hooked, &g.hooked); err != nil {
			return guard{}, fmt.Errorf("read webhook judgements: %w", err)
		}
		taken := make([]string, 0, len(g.hooked))
		for id := range g.hooked {
			taken = append(taken, id)
		}
		if _, err := tx.Exec(ctx, clearHookJudgementsSQL, taken); err != nil {
			return guard{}, fmt.Errorf("take webhook judgements: %w", err)
		}
	}
	for _, id := range erased {
		g.erased[id] = true
	}
	for _, n := range shared {
		g.shared[n] = true
	}
	return g, nil
}

// withoutErased returns calls without the erased ones, and the ids of
// those, each once.
func (g guard) withoutErased(calls []*Call) (keep []*Call, erased []string) {
	if len(g.erased) == 0 {
		return calls, nil
	}
	keep = make([]*Call, 0, len(calls))
	seen := map[string]bool{}
	for _, c := range calls {
		if !g.erased[c.ID] {
			keep = append(keep, c)
		} else if !seen[c.ID] {
			seen[c.ID] = true
			erased = append(erased, c.ID)
		}
	}
	return keep, erased
}
