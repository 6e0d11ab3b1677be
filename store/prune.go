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

// Pruned counts what Prune removed: per class, the calls that had data of
// that class (a call past a retention without a recording is marked pruned
// but counts for no recording), and the webhook judgements waiting for
// calls not stored that it dropped.
type Pruned struct {
	// Transcripts, Recordings and Variables count the calls whose
	// transcript text, recording URL, or variable and action values were
	// removed, by their own retention or by the retention of calls.
	Transcripts, Recordings, Variables int
	// Calls counts the calls whose details (numbers, names, raw payload)
	// were removed by the retention of calls.
	Calls          int
	HookJudgements int
	// Failures counts queue rows whose kept failure (last_error,
	// last_bad_body) was older than the retention of calls and was cleared.
	Failures int
}

// What each call of a prune's chunk had before it, in the subquery due
// over calls: the prunes count the data they removed, not the calls.
const (
	hadTranscriptSQL = `EXISTS (SELECT 1 FROM transcript_lines l WHERE l.call_id = calls.call_id AND l.text <> '') AS had_t`
	hadRecordingSQL  = `recording_url IS NOT NULL AS had_r`
	hadVariablesSQL  = `(prompt_variables IS NOT NULL
                   OR EXISTS (SELECT 1 FROM collected_variables v WHERE v.call_id = calls.call_id AND v.value <> 'null'::jsonb)
                   OR EXISTS (SELECT 1 FROM call_actions a WHERE a.call_id = calls.call_id
                              AND (a.parameters_hard_coded IS NOT NULL OR a.parameters_from_llm IS NOT NULL OR a.return_value IS NOT NULL))) AS had_v`
)

// pruneChunk bounds the calls pruned per transaction: writes of calls wait
// for each chunk, never for the whole prune.
const pruneChunk = 1000

// The prune of each class, for the next chunk of calls in call_id order
// after $1 that are older than $2 milliseconds and not pruned yet. Each
// returns the last call id of the chunk, how many calls it marked, and how
// many of them had a transcript, a recording and variables.
// A pruned call keeps its facts: status, times, durations, agent, and the
// transcript's lines and the variables' names (their text and values are
// emptied), so that call_facts' counts stay what they were.

const pruneTranscriptsSQL = `
WITH p AS (
    UPDATE calls c SET transcript_pruned_at = now(), raw = c.raw - 'transcript'
    FROM  (SELECT call_id, ` + hadTranscriptSQL + ` FROM calls
           WHERE  call_id > $1 AND transcript_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id, due.had_t),
t AS (UPDATE transcript_lines l SET text = '' FROM p WHERE l.call_id = p.call_id AND l.text <> '')
SELECT max(call_id), count(*), count(*) FILTER (WHERE had_t), 0, 0 FROM p`

const pruneRecordingsSQL = `
WITH p AS (
    UPDATE calls c SET recording_pruned_at = now(), recording_url = NULL, raw = c.raw - 'recording_url'
    FROM  (SELECT call_id, ` + hadRecordingSQL + ` FROM calls
           WHERE  call_id > $1 AND recording_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id, due.had_r),
` + pruneArchivedRecordingsSQL + `
SELECT max(call_id), count(*), 0, count(*) FILTER (WHERE had_r), 0 FROM p`

const pruneVariablesSQL = `
WITH p AS (
    UPDATE calls c SET variables_pruned_at = now(), prompt_variables = NULL,
                       raw = c.raw - 'collected_variables' - 'prompt_variables'
    FROM  (SELECT call_id, ` + hadVariablesSQL + ` FROM calls
           WHERE  call_id > $1 AND variables_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id, c.started_at, c.model_id, due.had_v),
v AS (UPDATE collected_variables v SET value = 'null', shared_value = NULL FROM p WHERE v.call_id = p.call_id),
a AS (` + pruneActionsSQL + `),
changed AS (SELECT started_at, model_id FROM p),
mark AS (` + markChangedSQL + `)
SELECT max(call_id), count(*), 0, 0, count(*) FILTER (WHERE had_v) FROM p`

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
    FROM  (SELECT call_id, ` + hadTranscriptSQL + `, ` + hadRecordingSQL + `, ` + hadVariablesSQL + ` FROM calls
           WHERE  call_id > $1 AND details_pruned_at IS NULL
                  AND coalesce(started_at, first_synced_at) < now() - $2 * interval '1 millisecond'
           ORDER  BY call_id LIMIT $3) due
    WHERE  c.call_id = due.call_id
    RETURNING c.call_id, c.started_at, c.model_id, due.had_t, due.had_r, due.had_v),
t AS (UPDATE transcript_lines l SET text = '' FROM p WHERE l.call_id = p.call_id AND l.text <> ''),
v AS (UPDATE collected_variables v SET value = 'null', shared_value = NULL FROM p WHERE v.call_id = p.call_id),
a AS (` + pruneActionsSQL + `),
j AS (UPDATE call_judgements j SET value = NULL, feedback = NULL FROM p WHERE j.call_id = p.call_id),
` + pruneArchivedRecordingsSQL + `,
changed AS (SELECT started_at, model_id FROM p),
mark AS (` + markChangedSQL + `)
SELECT max(call_id), count(*), count(*) FILTER (WHERE had_t), count(*) FILTER (WHERE had_r), count(*) FILTER (WHERE had_v) FROM p`

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

// pruneFailuresSQL clears the failures kept on queue rows longer than $1
// milliseconds: the body of a call that could not be decoded holds its
// numbers, names and transcript, and is kept nowhere a prune of calls
// reaches. last_error keeps a mark, so that the row still counts as
// failed where status looks.
const pruneFailuresSQL = `
UPDATE sync_queue
SET    last_bad_body = NULL,
       last_error = CASE WHEN last_error IS NOT NULL THEN '` + PrunedFailure + `' END
WHERE  (last_bad_body IS NOT NULL OR (last_error IS NOT NULL AND last_error <> '` + PrunedFailure + `'))
  AND  updated_at < now() - $1 * interval '1 millisecond'`

// PrunedFailure replaces a last_error that retention or erasure cleared.
const PrunedFailure = "(failure text removed: retention or erasure)"

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
			if err != nil {
				return err
			}
			res.HookJudgements = int(tag.RowsAffected())
			tag, err = tx.Exec(ctx, pruneFailuresSQL, r.Calls.Milliseconds())
			res.Failures = int(tag.RowsAffected())
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
	}{
		{"calls", r.Calls, pruneCallsSQL},
		{"transcripts", r.Transcripts, pruneTranscriptsSQL},
		{"recordings", r.Recordings, pruneRecordingsSQL},
		{"variables", r.Variables, pruneVariablesSQL},
	} {
		if class.keep <= 0 {
			continue
		}
		for after := ""; ; {
			var last *string
			var n, transcripts, recordings, variables int
			err := db.beginFunc(ctx, func(tx pgx.Tx) error {
				if err := lockPrivacy(ctx, tx); err != nil {
					return err
				}
				return tx.QueryRow(ctx, class.sql, after, class.keep.Milliseconds(), pruneChunk).Scan(&last, &n, &transcripts, &recordings, &variables)
			})
			if err != nil {
				return res, fmt.Errorf("prune %s: %w", class.name, err)
			}
			res.Transcripts += transcripts
			res.Recordings += recordings
			res.Variables += variables
			if class.name == "calls" {
				res.Calls += n
			}
			if n < pruneChunk || last == nil {
				break
			}
			after = *last
		}
	}
	return res, nil
}
