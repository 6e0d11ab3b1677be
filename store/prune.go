package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Retention says how long each class of personal data is kept, counted from
// the call's start (its first sync when it has no start time). Zero keeps
// the class for ever.
type Retention struct {
	Transcripts time.Duration // transcript text
	Recordings  time.Duration // recording URLs
	Variables   time.Duration // values of collected and pre-call variables, actions' parameters and results
	Calls       time.Duration // all of the above, and numbers, names, raw, judgement feedback
}

// Pruned counts the calls Prune pruned, per class, and the webhook
// judgements waiting for calls not stored that it dropped.
type Pruned struct {
	Transcripts, Recordings, Variables, Calls int
	HookJudgements                            int
}

// pruneChunk bounds the calls pruned per transaction: writes of calls wait
// for each chunk, never for the whole prune.
const pruneChunk = 1000

// The prune of each class, for the next chunk of calls in call_id order
// after $1 that are older than $2 milliseconds and not pruned yet. Each
// returns the last call id of the chunk and how many calls it pruned.
// A pruned call keeps its facts: status, times, durations, agent, and the
// transcript's lines and the variables' names (their text and values are
// emptied), so that call_facts' counts stay what they were.

const pruneTranscriptsSQL = `
WITH p AS (
    UPDATE calls c SET transcript_pruned_at = now(), raw = c.raw - 'transcript'
    FROM  (SELECT call_id FROM calls
           WHERE  call_id > $1 AND transcript_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id),
t AS (UPDATE transcript_lines l SET text = '' FROM p WHERE l.call_id = p.call_id AND l.text <> '')
SELECT max(call_id), count(*) FROM p`

const pruneRecordingsSQL = `
WITH p AS (
    UPDATE calls c SET recording_pruned_at = now(), recording_url = NULL, raw = c.raw - 'recording_url'
    FROM  (SELECT call_id FROM calls
           WHERE  call_id > $1 AND recording_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id),
` + pruneArchivedRecordingsSQL + `
SELECT max(call_id), count(*) FROM p`

const pruneVariablesSQL = `
WITH p AS (
    UPDATE calls c SET variables_pruned_at = now(), prompt_variables = NULL,
                       raw = c.raw - 'collected_variables' - 'prompt_variables'
    FROM  (SELECT call_id FROM calls
           WHERE  call_id > $1 AND variables_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id, c.started_at, c.model_id),
v AS (UPDATE collected_variables v SET value = 'null', shared_value = NULL FROM p WHERE v.call_id = p.call_id),
a AS (` + pruneActionsSQL + `),
changed AS (SELECT started_at, model_id FROM p),
mark AS (` + markChangedSQL + `)
SELECT max(call_id), count(*) FROM p`

// pruneActionsSQL empties what the actions of the pruned calls p passed
// and returned (extractors return what they collected), keeping what ran.
// It empties error_message, which daily_action_outcomes counts
// (has_error_message): the prunes that run it mark the rollup keys of their
// calls dirty. The other prunes change nothing the daily views read.
const pruneActionsSQL = `
    UPDATE call_actions a
    SET    parameters_hard_coded = NULL, parameters_from_llm = NULL, return_value = NULL,
           error_message = NULL, undecoded = NULL, raw = '{}'
    FROM   p WHERE a.call_id = p.call_id`

const pruneCallsSQL = `
WITH p AS (
    UPDATE calls c
    SET    details_pruned_at = now(),
           transcript_pruned_at = coalesce(c.transcript_pruned_at, now()),
           recording_pruned_at = coalesce(c.recording_pruned_at, now()),
           variables_pruned_at = coalesce(c.variables_pruned_at, now()),
           phone_number_from = NULL, phone_number_to = NULL, name = NULL, lead_name = NULL, agent_phone_number = NULL,
           phone_number_from_pseudonym = NULL, phone_number_to_pseudonym = NULL,
           recording_url = NULL, executed_actions = NULL, prompt_variables = NULL, raw = '{}'
    FROM  (SELECT call_id FROM calls
           WHERE  call_id > $1 AND details_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id, c.started_at, c.model_id),
t AS (UPDATE transcript_lines l SET text = '' FROM p WHERE l.call_id = p.call_id AND l.text <> ''),
v AS (UPDATE collected_variables v SET value = 'null', shared_value = NULL FROM p WHERE v.call_id = p.call_id),
a AS (` + pruneActionsSQL + `),
j AS (UPDATE call_judgements j SET value = NULL, feedback = NULL FROM p WHERE j.call_id = p.call_id),
` + pruneArchivedRecordingsSQL + `,
changed AS (SELECT started_at, model_id FROM p),
mark AS (` + markChangedSQL + `)
SELECT max(call_id), count(*) FROM p`

// pruneArchivedRecordingsSQL marks the archived recordings of the pruned
// calls p for deletion (the worker deletes the objects) and drops the
// recordings rows without an object, so that nothing archives them later.
// The two touch disjoint rows: data-modifying CTEs all see the table as it
// was.
const pruneArchivedRecordingsSQL = `
r AS (UPDATE recordings r SET state = 'delete', updated_at = now() FROM p
      WHERE  r.call_id = p.call_id AND r.object_key IS NOT NULL AND r.state <> 'deleted'),
rd AS (DELETE FROM recordings d USING p WHERE d.call_id = p.call_id AND d.object_key IS NULL AND d.state <> 'deleted')`

// pruneHookJudgementsSQL drops the judgements of verified webhooks that
// have waited on queue rows longer than $1 milliseconds for calls that were
// never stored (a call the API no longer serves, say).
const pruneHookJudgementsSQL = `
UPDATE sync_queue SET webhook_judgements = NULL, webhook_judged_at = NULL
WHERE  webhook_judgements IS NOT NULL AND webhook_judged_at < now() - $1 * interval '1 millisecond'`

// Prune applies retention: it removes the personal data of each class from
// the calls older than the class's retention, and marks them pruned (the
// calls' *_pruned_at columns), so that no later write of the calls brings
// it back. Calls keep their facts. With a retention of calls, it also drops
// the judgements of webhooks received longer ago than that which still wait
// for their calls. It works in chunks, each in its own transaction, so that
// the worker's writes wait for one chunk at most, and returns what it
// pruned until an error.
func (db *DB) Prune(ctx context.Context, r Retention) (Pruned, error) {
	var res Pruned
	if r.Calls > 0 {
		err := db.beginFunc(ctx, func(tx pgx.Tx) error {
			if err := lockPrivacy(ctx, tx); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, pruneHookJudgementsSQL, r.Calls.Milliseconds())
			res.HookJudgements = int(tag.RowsAffected())
			return err
		})
		if err != nil {
			return Pruned{}, fmt.Errorf("prune webhook judgements: %w", err)
		}
	}
	for _, class := range []struct {
		name string
		keep time.Duration
		sql  string
		n    *int
	}{
		{"calls", r.Calls, pruneCallsSQL, &res.Calls},
		{"transcripts", r.Transcripts, pruneTranscriptsSQL, &res.Transcripts},
		{"recordings", r.Recordings, pruneRecordingsSQL, &res.Recordings},
		{"variables", r.Variables, pruneVariablesSQL, &res.Variables},
	} {
		if class.keep <= 0 {
			continue
		}
		for after := ""; ; {
			var last *string
			var n int
			err := db.beginFunc(ctx, func(tx pgx.Tx) error {
				if err := lockPrivacy(ctx, tx); err != nil {
					return err
				}
				return tx.QueryRow(ctx, class.sql, after, class.keep.Milliseconds(), pruneChunk).Scan(&last, &n)
			})
			if err != nil {
				return res, fmt.Errorf("prune %s: %w", class.name, err)
			}
			*class.n += n
			if n < pruneChunk || last == nil {
				break
			}
			after = *last
		}
	}
	return res, nil
}
