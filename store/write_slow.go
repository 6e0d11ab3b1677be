package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/store/internal/treeonly"
)

// The per-call statements of the slow path. The SET clauses are shared with
// the set-based merge of write.go, so both paths keep the same rules.

// What retention pruned of a stored call stays pruned: a pruned column
// keeps its NULL, and raw loses the keys that held what was pruned (all of
// them once the call's details were pruned). A call written for the first
// time has nothing pruned.
const upsertCallSetSQL = `
ON CONFLICT (call_id) DO UPDATE SET
    model_id               = COALESCE(EXCLUDED.model_id, calls.model_id),
    status                 = COALESCE(EXCLUDED.status, calls.status),
    end_call_reason        = COALESCE(EXCLUDED.end_call_reason, calls.end_call_reason),
    custom_end_call_reason = COALESCE(EXCLUDED.custom_end_call_reason, calls.custom_end_call_reason),
    type_of_call           = COALESCE(EXCLUDED.type_of_call, calls.type_of_call),
    campaign_type          = COALESCE(EXCLUDED.campaign_type, calls.campaign_type),
    phone_number_from      = CASE WHEN calls.details_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.phone_number_from, calls.phone_number_from) END,
    phone_number_to        = CASE WHEN calls.details_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.phone_number_to, calls.phone_number_to) END,
    phone_number_from_pseudonym = CASE WHEN calls.details_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.phone_number_from_pseudonym, calls.phone_number_from_pseudonym) END,
    phone_number_to_pseudonym   = CASE WHEN calls.details_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.phone_number_to_pseudonym, calls.phone_number_to_pseudonym) END,
    name                   = CASE WHEN calls.details_pruned_at IS NULL THEN COALESCE(EXCLUDED.name, calls.name) END,
    started_at             = COALESCE(EXCLUDED.started_at, calls.started_at),
    duration_seconds       = COALESCE(EXCLUDED.duration_seconds, calls.duration_seconds),
    timezone               = COALESCE(EXCLUDED.timezone, calls.timezone),
    recording_url          = CASE WHEN calls.recording_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.recording_url, calls.recording_url) END,
    error_message          = COALESCE(EXCLUDED.error_message, calls.error_message),
    executed_actions       = CASE WHEN calls.details_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.executed_actions, calls.executed_actions) END,
    prompt_variables       = CASE WHEN calls.variables_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.prompt_variables, calls.prompt_variables) END,
    raw                    = CASE WHEN calls.details_pruned_at IS NOT NULL THEN '{}'::jsonb
                                  WHEN calls.transcript_pruned_at IS NULL AND calls.recording_pruned_at IS NULL
                                       AND calls.variables_pruned_at IS NULL THEN calls.raw || EXCLUDED.raw
                                  ELSE (calls.raw || EXCLUDED.raw) - ` + prunedRawKeysSQL + ` END,
    labels                 = COALESCE(EXCLUDED.labels, calls.labels),
    agents_used            = COALESCE(EXCLUDED.agents_used, calls.agents_used),
    assistant_version      = COALESCE(EXCLUDED.assistant_version, calls.assistant_version),
    lead_name              = CASE WHEN calls.details_pruned_at IS NULL THEN COALESCE(EXCLUDED.lead_name, calls.lead_name) END,
    recording_duration     = COALESCE(EXCLUDED.recording_duration, calls.recording_duration),
    deployment_type        = COALESCE(EXCLUDED.deployment_type, calls.deployment_type),
    agent_phone_number     = CASE WHEN calls.details_pruned_at IS NULL
                                  THEN COALESCE(EXCLUDED.agent_phone_number, calls.agent_phone_number) END,
    utterances             = COALESCE(EXCLUDED.utterances, calls.utterances),
    agent_utterances       = COALESCE(EXCLUDED.agent_utterances, calls.agent_utterances),
    human_utterances       = COALESCE(EXCLUDED.human_utterances, calls.human_utterances),
    variables              = COALESCE(EXCLUDED.variables, calls.variables),
    variables_collected    = COALESCE(EXCLUDED.variables_collected, calls.variables_collected),
    answered_by_human      = COALESCE(EXCLUDED.answered_by_human, calls.answered_by_human),
    payload_hash           = EXCLUDED.payload_hash,
    synced_at              = now()`

// prunedRawKeysSQL is the keys of raw that hold what was pruned of the
// call in calls.
const prunedRawKeysSQL = `array_remove(ARRAY[
        CASE WHEN calls.transcript_pruned_at IS NOT NULL THEN 'transcript' END,
        CASE WHEN calls.recording_pruned_at IS NOT NULL THEN 'recording_url' END,
        CASE WHEN calls.variables_pruned_at IS NOT NULL THEN 'collected_variables' END,
        CASE WHEN calls.variables_pruned_at IS NOT NULL THEN 'prompt_variables' END], NULL)`

const upsertCallSQL = `
INSERT INTO calls (
    call_id, model_id, status, end_call_reason, custom_end_call_reason, type_of_call,
    campaign_type, phone_number_from, phone_number_to, name, started_at, duration_seconds,
    timezone, recording_url, error_message, executed_actions, prompt_variables, raw, payload_hash,
    labels, agents_used, assistant_version, lead_name, recording_duration, deployment_type,
    agent_phone_number, utterances, agent_utterances, human_utterances, variables, variables_collected,
    answered_by_human, phone_number_from_pseudonym, phone_number_to_pseudonym)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32,
        callsync_pseudonym($8), callsync_pseudonym($9))` + upsertCallSetSQL

const touchCallSQL = `
UPDATE calls SET synced_at = now() WHERE call_id = $1 AND payload_hash = $2`

// The per-call child statements leave what retention pruned alone.

const notTranscriptPrunedSQL = `
NOT EXISTS (SELECT FROM calls c WHERE c.call_id = $1 AND c.transcript_pruned_at IS NOT NULL)`

const notVariablesPrunedSQL = `
NOT EXISTS (SELECT FROM calls c WHERE c.call_id = $1 AND c.variables_pruned_at IS NOT NULL)`

const deleteTranscriptSQL = `DELETE FROM transcript_lines WHERE call_id = $1 AND` + notTranscriptPrunedSQL

const insertTranscriptSQL = `
INSERT INTO transcript_lines (call_id, line_no, speaker, text)
SELECT $1, l.line_no, l.speaker, l.text
FROM   unnest($2::integer[], $3::text[], $4::text[]) AS l(line_no, speaker, text)
WHERE` + notTranscriptPrunedSQL

const insertTranscriptLineSQL = `
INSERT INTO transcript_lines (call_id, line_no, speaker, text)
SELECT $1, $2, $3, $4 WHERE` + notTranscriptPrunedSQL

const deleteVariablesSQL = `DELETE FROM collected_variables WHERE call_id = $1 AND` + notVariablesPrunedSQL

const insertVariablesSQL = `
INSERT INTO collected_variables (call_id, agent_id, name, value, collected, shared_value)
SELECT $1, v.agent_id, v.name, v.value::jsonb, v.collected,
       CASE WHEN EXISTS (SELECT FROM shared_variables s WHERE s.name = v.name) THEN v.value::jsonb END
FROM   unnest($2::text[], $3::text[], $4::text[], $5::boolean[]) AS v(agent_id, name, value, collected)
WHERE` + notVariablesPrunedSQL

const insertVariableSQL = `
INSERT INTO collected_variables (call_id, agent_id, name, value, collected, shared_value)
SELECT $1, $2, $3, $4::jsonb, $5, CASE WHEN EXISTS (SELECT FROM shared_variables s WHERE s.name = $3) THEN $4::jsonb END
WHERE` + notVariablesPrunedSQL

// Actions hold extractors' results: pruned with the variables.
const notActionsPrunedSQL = `
NOT EXISTS (SELECT FROM calls c WHERE c.call_id = $1
            AND (c.variables_pruned_at IS NOT NULL OR c.details_pruned_at IS NOT NULL))`

const notJudgementsPrunedSQL = `
NOT EXISTS (SELECT FROM calls c WHERE c.call_id = $1 AND c.details_pruned_at IS NOT NULL)`

const deleteActionsSQL = `DELETE FROM call_actions WHERE call_id = $1 AND` + notActionsPrunedSQL

const insertActionSQL = `
INSERT INTO call_actions (call_id, position, action_key, kind, identifier, name, action_type, description,
    status, error_message, parameters_hard_coded, parameters_from_llm, return_value, is_relevant, ran_at,
    undecoded, raw)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13::jsonb, $14, $15, $16, $17::jsonb
WHERE` + notActionsPrunedSQL

const deleteJudgementsSQL = `DELETE FROM call_judgements WHERE call_id = $1 AND` + notJudgementsPrunedSQL

const insertJudgementSQL = `
INSERT INTO call_judgements (call_id, criterion, result, value, feedback)
SELECT $1, $2, $3, $4, $5 WHERE` + notJudgementsPrunedSQL

const upsertTelephonySetSQL = `
ON CONFLICT (call_id) DO UPDATE SET
    hangup              = COALESCE(EXCLUDED.hangup, call_telephony.hangup),
    disconnect_reason   = COALESCE(EXCLUDED.disconnect_reason, call_telephony.disconnect_reason),
    duration_ms         = COALESCE(EXCLUDED.duration_ms, call_telephony.duration_ms),
    ringing_duration_ms = COALESCE(EXCLUDED.ringing_duration_ms, call_telephony.ringing_duration_ms),
    started_at          = COALESCE(EXCLUDED.started_at, call_telephony.started_at),
    ended_at            = COALESCE(EXCLUDED.ended_at, call_telephony.ended_at)`

const upsertTelephonySQL = `
INSERT INTO call_telephony (call_id, hangup, disconnect_reason, duration_ms, ringing_duration_ms, started_at, ended_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)` + upsertTelephonySetSQL

// SaveCallSlow writes one call in a transaction of its own, statement by
// statement, one statement per row, with the same rules as SaveCalls: a
// call whose payload hash equals the stored one only has its synced_at
// touched, an erased call is not written, and judgements of a verified
// webhook that waited for the call are written with it. It is the naive
// writer, many times slower than SaveCalls, kept as the baseline that
// benchmarks measure the batched path against (storebench.SaveCallSlow); sync
// passes never use it. It takes a treeonly.Key, which only the store tree can
// name. It returns the database's error, with the call id,
// when a statement fails.
func (db *DB) SaveCallSlow(ctx context.Context, _ treeonly.Key, c Call) error {
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if err := lockWrites(ctx, tx); err != nil {
			return err
		}
		g, err := loadGuard(ctx, tx, []*Call{&c})
		if err != nil {
			return err
		}
		calls, erased := g.withoutErased([]*Call{&c})
		if len(erased) > 0 {
			return nil
		}
		w := g.withHookJudgements(calls)[0]
		if w.PayloadHash != nil {
			tag, err := tx.Exec(ctx, touchCallSQL, w.ID, w.PayloadHash)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				return nil
			}
		}
		callStatements(w, true, func(sql string, args ...any) {
			if err == nil {
				_, err = tx.Exec(ctx, sql, args...)
			}
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("save call %s: %w", c.ID, err)
	}
	return nil
}

// callStatements passes each statement that writes c, with its arguments,
// to do, in order: the call's rollup keys, the call, its transcript, its
// variables, its actions, its judgements, its telephony.
// With perRow, each transcript line and variable is a statement of its
// own; otherwise each set is one statement over arrays. It does not check
// the payload hash.
func callStatements(c *Call, perRow bool, do func(sql string, args ...any)) {
	raw := c.Raw
	if raw == nil {
		raw = []byte("{}")
	}
	k := countsOf(c)
	do(markCallSQL, c.ID, c.StartedAt, c.ModelID)
	do(upsertCallSQL, c.ID, c.ModelID, c.Status, c.EndCallReason, c.CustomEndCallReason,
		c.TypeOfCall, c.CampaignType, c.PhoneNumberFrom, c.PhoneNumberTo, c.Name, c.StartedAt,
		c.DurationSeconds, c.Timezone, c.RecordingURL, c.ErrorMessage, jsonArg(c.ExecutedActions),
		jsonArg(c.PromptVariables), string(raw), c.PayloadHash,
		c.Labels, c.AgentsUsed, c.AssistantVersion, c.LeadName, c.RecordingDuration, c.DeploymentType,
		c.AgentPhoneNumber, k.utterances, k.agentUtterances, k.humanUtterances, k.variables, k.variablesCollected,
		c.AnsweredByHuman)
	if c.Transcript != nil {
		do(deleteTranscriptSQL, c.ID)
		if perRow {
			for _, l := range c.Transcript {
				do(insertTranscriptLineSQL, c.ID, l.LineNo, l.Speaker, l.Text)
			}
		} else {
			n := len(c.Transcript)
			nos, speakers, texts := make([]int32, n), make([]string, n), make([]string, n)
			for i, l := range c.Transcript {
				nos[i], speakers[i], texts[i] = l.LineNo, l.Speaker, l.Text
			}
			do(insertTranscriptSQL, c.ID, nos, speakers, texts)
		}
	}
	if c.Variables != nil {
		do(deleteVariablesSQL, c.ID)
		if perRow {
			for _, v := range c.Variables {
				do(insertVariableSQL, c.ID, v.AgentID, v.Name, string(variableValue(v.Value)), v.Collected)
			}
		} else {
			n := len(c.Variables)
			agents, names, values, collected := make([]string, n), make([]string, n), make([]string, n), make([]*bool, n)
			for i, v := range c.Variables {
				agents[i], names[i], values[i], collected[i] = v.AgentID, v.Name, string(variableValue(v.Value)), v.Collected
			}
			do(insertVariablesSQL, c.ID, agents, names, values, collected)
		}
	}
	if c.Actions != nil {
		do(deleteActionsSQL, c.ID)
		for _, a := range c.Actions {
			do(insertActionSQL, c.ID, a.Position, a.Key, a.Kind, a.Identifier, a.Name, a.ActionType, a.Description,
				a.Status, a.ErrorMessage, jsonArg(a.ParametersHardCoded), jsonArg(a.ParametersFromLLM),
				jsonArg(a.ReturnValue), a.IsRelevant, a.RanAt, a.Undecoded, string(actionRaw(a.Raw)))
		}
	}
	if c.Judgements != nil {
		do(deleteJudgementsSQL, c.ID)
		for _, j := range c.Judgements {
			do(insertJudgementSQL, c.ID, j.Criterion, j.Result, j.Value, j.Feedback)
		}
	}
	if t := c.Telephony; t != nil {
		do(upsertTelephonySQL, c.ID, t.Hangup, t.DisconnectReason, t.DurationMS,
			t.RingingDurationMS, t.StartedAt, t.EndedAt)
	}
}

// jsonArg passes a JSON document as text (Postgres casts it to jsonb), or
// NULL when there is none.
func jsonArg(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// variableValue is the JSON stored for a variable's value: a missing value
// is the JSON null, as Variable documents.
func variableValue(b []byte) []byte {
	if b == nil {
		return []byte("null")
	}
	return b
}

// actionRaw is the raw JSON stored for an action: JSON null when none.
func actionRaw(b []byte) []byte {
	if b == nil {
		return []byte("null")
	}
	return b
}

// counts are the per-call counts stored on calls; nil when the call sends
// no transcript (or no variables), so that the stored counts are kept with
// the stored rows.
type counts struct {
	utterances, agentUtterances, humanUtterances *int32
	variables, variablesCollected                *int32
}

// countsOf counts what c replaces. The speaker groups are call_facts's:
// bot, assistant and agent are the agent; human is the person.
func countsOf(c *Call) counts {
	var k counts
	if c.Transcript != nil {
		var agent, human int32
		for _, l := range c.Transcript {
			switch l.Speaker {
			case "bot", "assistant", "agent":
				agent++
			case "human":
				human++
			}
		}
		k.utterances, k.agentUtterances, k.humanUtterances = new(int32(len(c.Transcript))), &agent, &human
	}
	if c.Variables != nil {
		var collected int32
		for _, v := range c.Variables {
			if v.Collected != nil && *v.Collected {
				collected++
			}
		}
		k.variables, k.variablesCollected = new(int32(len(c.Variables))), &collected
	}
	return k
}
