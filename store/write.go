package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SaveResult says what SaveCalls did besides writing calls.
type SaveResult struct {
	// Unchanged counts calls whose payload hash was the stored one: only
	// their synced_at was touched.
	Unchanged int
	// Erased lists the calls not written because they were erased
	// (callsync forget), each once.
	Erased []string
}

// SaveCalls writes calls in one transaction, without touching the queue.
// Backfills use it to store calls read from list pages. Erased calls are
// never written: they are returned in Erased. It writes all the other
// calls or none: when the database rejects one, the error is returned and
// nothing is stored.
func (db *DB) SaveCalls(ctx context.Context, calls []Call) (SaveResult, error) {
	if len(calls) == 0 {
		return SaveResult{}, nil
	}
	ptrs := make([]*Call, len(calls))
	for i := range calls {
		ptrs[i] = &calls[i]
	}
	var res SaveResult
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if err := lockWrites(ctx, tx); err != nil {
			return err
		}
		var err error
		res, err = writeCalls(ctx, tx, ptrs)
		return err
	})
	if err != nil {
		return SaveResult{}, fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	return res, nil
}

// touchUnchangedSQL settles the calls whose payload is the one stored:
// only their synced_at changes (a HOT update, as the table leaves room in
// its pages), and the rows stay locked until the transaction ends, so that
// they stay unchanged while the rest is written. A call without a hash
// (NULL) is never unchanged.
const touchUnchangedSQL = `
UPDATE calls c
SET    synced_at = now()
FROM   unnest($1::text[], $2::bytea[]) AS u(call_id, payload_hash)
WHERE  c.call_id = u.call_id AND c.payload_hash = u.payload_hash
RETURNING c.call_id`

// storedSQL finds which of the other calls are stored already, with what
// retention pruned of them: what was pruned is never written again.
const storedSQL = `
SELECT call_id, transcript_pruned_at IS NOT NULL, variables_pruned_at IS NOT NULL, details_pruned_at IS NOT NULL
FROM   calls WHERE call_id = ANY($1::text[])`

// The merge of the staged calls, with the rules of the per-call statements
// of write_slow.go, sent as one batch. Rows are taken in call_id order so
// that concurrent writers lock rows in the same order. The transcript lines
// and variables that the calls replace are deleted here; the new ones are
// then copied straight into their tables.

const mergeCallsSQL = `
INSERT INTO calls (
    call_id, model_id, status, end_call_reason, custom_end_call_reason, type_of_call,
    campaign_type, phone_number_from, phone_number_to, name, started_at, duration_seconds,
    timezone, recording_url, error_message, executed_actions, prompt_variables, raw, payload_hash,
    labels, agents_used, assistant_version, lead_name, recording_duration, deployment_type,
    agent_phone_number, utterances, agent_utterances, human_utterances, variables, variables_collected,
    answered_by_human, phone_number_from_pseudonym, phone_number_to_pseudonym)
SELECT s.call_id, s.model_id, s.status, s.end_call_reason, s.custom_end_call_reason, s.type_of_call,
       s.campaign_type, s.phone_number_from, s.phone_number_to, s.name, s.started_at, s.duration_seconds,
       s.timezone, s.recording_url, s.error_message, s.executed_actions, s.prompt_variables, s.raw, s.payload_hash,
       s.labels, s.agents_used, s.assistant_version, s.lead_name, s.recording_duration, s.deployment_type,
       s.agent_phone_number, s.utterances, s.agent_utterances, s.human_utterances, s.variables, s.variables_collected,
       s.answered_by_human,
       encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(s.phone_number_from, 'UTF8'))), 'hex'),
       encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(s.phone_number_to, 'UTF8'))), 'hex')
FROM   pg_temp.stage_calls s
LEFT   JOIN pseudonym_key k ON true
ORDER  BY s.call_id` + upsertCallSetSQL

const mergeDeleteTranscriptsSQL = `
DELETE FROM transcript_lines t
USING  pg_temp.stage_calls s
WHERE  s.replace_transcript AND t.call_id = s.call_id`

const mergeDeleteVariablesSQL = `
DELETE FROM collected_variables v
USING  pg_temp.stage_calls s
WHERE  s.replace_variables AND v.call_id = s.call_id`

const mergeDeleteActionsSQL = `
DELETE FROM call_actions a
USING  pg_temp.stage_calls s
WHERE  s.replace_actions AND a.call_id = s.call_id`

const mergeDeleteJudgementsSQL = `
DELETE FROM call_judgements j
USING  pg_temp.stage_calls s
WHERE  s.replace_judgements AND j.call_id = s.call_id`

const mergeTelephonySQL = `
INSERT INTO call_telephony (call_id, hangup, disconnect_reason, duration_ms, ringing_duration_ms, started_at, ended_at)
SELECT call_id, hangup, disconnect_reason, duration_ms, ringing_duration_ms, tel_started_at, tel_ended_at
FROM   pg_temp.stage_calls
WHERE  has_telephony
ORDER  BY call_id` + upsertTelephonySetSQL

const clearStageSQL = `DELETE FROM pg_temp.stage_calls`

// jitOffSQL turns JIT compilation off for the rest of a transaction.
const jitOffSQL = `SET LOCAL jit = off`

// writeCalls stores calls on tx and returns how many were unchanged.
//
// A batch is written set-based, in a handful of round trips whatever its
// size: the calls whose payload hash equals the stored one get their
// synced_at touched and nothing else; the others are copied (COPY) into a
// staging table, merged into calls and call_telephony by one statement
// each, with the rules of SaveCallSlow (a nil field keeps the stored value,
// raw is merged key by key), and the transcript lines and variables of the
// calls that send them (non-nil) replace the stored ones: one DELETE each
// for the calls already stored, then COPY straight into their tables.
//
// The rollup keys of the written calls, before and after, are marked dirty
// (markStagedSQL); unchanged calls mark nothing.
//
// Duplicate ids in calls are written in order, the last one winning: the
// k-th occurrence of each id is written in the k-th round, so each round
// sees what the one before wrote, as one write per call would.
//
// Erased calls are not written (their ids are returned); what retention
// pruned of a stored call is not written again; a variable's value is
// copied to shared_value when the variable is shared; judgements of a
// verified webhook that waited for a call are written with it (see
// SaveHookJudgements). The transaction must hold the privacy lock shared
// (lockWrites).
func writeCalls(ctx context.Context, tx pgx.Tx, calls []*Call) (SaveResult, error) {
	var res SaveResult
	if len(calls) == 0 {
		return res, nil
	}
	// The merges of a batch are estimated above jit_above_cost, and JIT
	// compiling them took about an eighth of the server's CPU time on a
	// fresh sync, for statements that run in milliseconds.
	if _, err := tx.Exec(ctx, jitOffSQL); err != nil {
		return res, fmt.Errorf("turn jit off: %w", err)
	}
	g, err := loadGuard(ctx, tx, calls)
	if err != nil {
		return res, err
	}
	calls, res.Erased = g.withoutErased(calls)
	calls = g.withHookJudgements(calls)
	for _, round := range rounds(calls) {
		n, err := writeRound(ctx, tx, round, g)
		if err != nil {
			return SaveResult{}, err
		}
		res.Unchanged += n
	}
	return res, nil
}

// rounds splits calls, in order, so that no id occurs twice in a round.
func rounds(calls []*Call) [][]*Call {
	seen := make(map[string]int, len(calls)) // id → occurrences so far
	var out [][]*Call
	for _, c := range calls {
		k := seen[c.ID]
		seen[c.ID] = k + 1
		if k == len(out) {
			out = append(out, make([]*Call, 0, len(calls)/(k+1)))
		}
		out[k] = append(out[k], c)
	}
	return out
}

// writeRound writes calls whose ids are distinct.
func writeRound(ctx context.Context, tx pgx.Tx, calls []*Call, g guard) (unchanged int, err error) {
	stored, err := classify(ctx, tx, calls)
	if err != nil {
		return 0, err
	}
	changed := make([]staged, 0, len(calls))
	for _, c := range calls {
		st, ok := stored[c.ID]
		if ok && st.unchanged {
			unchanged++
			continue
		}
		changed = append(changed, stageOf(c, st, ok, g.shared))
	}
	if len(changed) == 0 {
		return unchanged, nil
	}
	if err := stageCalls(ctx, tx, changed); err != nil {
		return 0, err
	}
	if err := tx.SendBatch(ctx, mergeBatch(changed)).Close(); err != nil {
		return 0, fmt.Errorf("merge %d calls: %w", len(changed), err)
	}
	if err := copyChildren(ctx, tx, changed); err != nil {
		return 0, err
	}
	return unchanged, nil
}

// stageOf is what of c a round writes, given what classify found of it
// (st; stored says the call is stored). The children of a call that is not
// stored yet need no DELETE, which spares the merge a join with the big
// child tables. Pruned children are neither deleted nor written.
func stageOf(c *Call, st storedCall, stored bool, shared map[string]bool) staged {
	s := staged{Call: c, transcript: c.Transcript, variables: c.Variables, actions: c.Actions,
		judgements: c.Judgements, shared: shared}
	if st.transcriptPruned {
		s.transcript = nil
	}
	if st.variablesPruned {
		s.variables, s.actions = nil, nil // extractors' results are in the actions
	}
	if st.detailsPruned {
		s.actions, s.judgements = nil, nil
	}
	s.replaceTranscript = stored && s.transcript != nil
	s.replaceVariables = stored && s.variables != nil
	s.replaceActions = stored && s.actions != nil
	s.replaceJudgements = stored && s.judgements != nil
	return s
}

// mergeBatch merges the staged calls into the tables: the calls, and the
// DELETE of a child table only when some call replaces its rows.
func mergeBatch(changed []staged) *pgx.Batch {
	ids := make([]string, len(changed))
	var transcripts, variables, actions, judgements, telephony bool
	for i, c := range changed {
		ids[i] = c.ID
		transcripts = transcripts || c.replaceTranscript
		variables = variables || c.replaceVariables
		actions = actions || c.replaceActions
		judgements = judgements || c.replaceJudgements
		telephony = telephony || c.Telephony != nil
	}
	b := &pgx.Batch{}
	b.Queue(markStagedSQL, ids)
	b.Queue(mergeCallsSQL)
	for _, q := range []struct {
		do  bool
		sql string
	}{
		{transcripts, mergeDeleteTranscriptsSQL}, {variables, mergeDeleteVariablesSQL}, {actions, mergeDeleteActionsSQL},
		{judgements, mergeDeleteJudgementsSQL}, {telephony, mergeTelephonySQL},
	} {
		if q.do {
			b.Queue(q.sql)
		}
	}
	b.Queue(clearStageSQL)
	return b
}

// staged is a call to write with what its merge deletes.
type staged struct {
	*Call
	transcript        []TranscriptLine // to write: nil when not sent or pruned
	variables         []Variable       // to write: nil when not sent or pruned
	actions           []Action         // to write: nil when not sent or pruned
	judgements        []Judgement      // to write: nil when not sent or pruned
	shared            map[string]bool  // names of the variables whose values are shared
	replaceTranscript bool             // the call is stored and a transcript is written
	replaceVariables  bool             // the call is stored and variables are written
	replaceActions    bool             // the call is stored and actions are written
	replaceJudgements bool             // the call is stored and judgements are written
}

// storedCall is what classify found of a call.
type storedCall struct {
	unchanged        bool
	transcriptPruned bool
	variablesPruned  bool
	detailsPruned    bool
}

// classify runs touchUnchangedSQL, which touches the stored calls whose
// payload is unchanged, then storedSQL for the rest, and returns every
// stored call of calls.
func classify(ctx context.Context, tx pgx.Tx, calls []*Call) (map[string]storedCall, error) {
	ids, hashes := make([]string, len(calls)), make([][]byte, len(calls))
	for i, c := range calls {
		ids[i], hashes[i] = c.ID, c.PayloadHash
	}
	rows, err := tx.Query(ctx, touchUnchangedSQL, ids, hashes)
	if err != nil {
		return nil, fmt.Errorf("find unchanged calls: %w", err)
	}
	touched, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find unchanged calls: %w", err)
	}
	stored := make(map[string]storedCall, len(calls))
	for _, id := range touched {
		stored[id] = storedCall{unchanged: true}
	}
	rest := ids[:0:0]
	for _, id := range ids {
		if _, ok := stored[id]; !ok {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 { // a re-sync of unchanged calls: nothing more to look up
		return stored, nil
	}
	rows, err = tx.Query(ctx, storedSQL, rest)
	if err != nil {
		return nil, fmt.Errorf("find stored calls: %w", err)
	}
	var id string
	var st storedCall
	_, err = pgx.ForEachRow(rows, []any{&id, &st.transcriptPruned, &st.variablesPruned, &st.detailsPruned}, func() error {
		stored[id] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find stored calls: %w", err)
	}
	return stored, nil
}
