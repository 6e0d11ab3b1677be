package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The staging table that a batch of calls is copied into before the merge
// into calls and call_telephony. It is a temporary table, private to the
// connection, created once per connection and reused: ON COMMIT DELETE ROWS
// empties it at each commit by truncating its file, which, unlike creating
// a table per transaction (ON COMMIT DROP) or TRUNCATE, writes nothing to
// the system catalogs; the merge deletes its rows for the next batch of the
// same transaction. A transaction that rolls back the creation leaves no
// table, and the next batch creates it again.
//
// Its JSON columns are compressed with lz4 when the server supports it
// (PostgreSQL 14 and later, built with lz4, as the usual packages are).
// The merge copies compressed values into calls as they are, so the
// payloads are compressed once, with lz4, which spends much less of the
// server's time than pglz, the default, on payloads of a few kilobytes,
// and calls are written in bulk. Values read back the same either way;
// later updates of a value compress it with the column's default.
const createStageSQL = `
CREATE TEMP TABLE stage_calls (
    call_id                text NOT NULL,
    model_id               text,
    status                 text,
    end_call_reason        text,
    custom_end_call_reason text,
    type_of_call           text,
    campaign_type          text,
    phone_number_from      text,
    phone_number_to        text,
    name                   text,
    started_at             timestamptz,
    duration_seconds       integer,
    timezone               text,
    recording_url          text,
    error_message          text,
    executed_actions       jsonb {compression},
    prompt_variables       jsonb {compression},
    raw                    jsonb {compression} NOT NULL,
    payload_hash           bytea,
    replace_transcript     boolean NOT NULL,
    replace_variables      boolean NOT NULL,
    has_telephony          boolean NOT NULL,
    hangup                 text,
    disconnect_reason      text,
    duration_ms            bigint,
    ringing_duration_ms    bigint,
    tel_started_at         timestamptz,
    tel_ended_at           timestamptz,
    labels                 text[],
    agents_used            text[],
    assistant_version      text,
    lead_name              text,
    recording_duration     double precision,
    deployment_type        text,
    agent_phone_number     text,
    utterances             integer,
    agent_utterances       integer,
    human_utterances       integer,
    variables              integer,
    variables_collected    integer,
    answered_by_human      text,
    replace_actions        boolean NOT NULL,
    replace_judgements     boolean NOT NULL
) ON COMMIT DELETE ROWS`

const stageExistsSQL = `SELECT to_regclass('pg_temp.stage_calls') IS NOT NULL`

const lz4SupportedSQL = `
SELECT coalesce(bool_or('lz4' = ANY (enumvals)), false)
FROM   pg_settings WHERE name = 'default_toast_compression'`

var (
	stageCallsTable   = pgx.Identifier{"pg_temp", "stage_calls"}
	stageCallsColumns = []string{
		"call_id", "model_id", "status", "end_call_reason", "custom_end_call_reason", "type_of_call",
		"campaign_type", "phone_number_from", "phone_number_to", "name", "started_at", "duration_seconds",
		"timezone", "recording_url", "error_message", "executed_actions", "prompt_variables", "raw",
		"payload_hash", "replace_transcript", "replace_variables", "has_telephony", "hangup", "disconnect_reason",
		"duration_ms", "ringing_duration_ms", "tel_started_at", "tel_ended_at",
		"labels", "agents_used", "assistant_version", "lead_name", "recording_duration", "deployment_type",
		"agent_phone_number", "utterances", "agent_utterances", "human_utterances", "variables",
		"variables_collected", "answered_by_human", "replace_actions", "replace_judgements",
	}
	transcriptTable   = pgx.Identifier{"transcript_lines"}
	transcriptColumns = []string{"call_id", "line_no", "speaker", "text"}
	variablesTable    = pgx.Identifier{"collected_variables"}
	variablesColumns  = []string{"call_id", "agent_id", "name", "value", "collected", "shared_value"}
	actionsTable      = pgx.Identifier{"call_actions"}
	actionsColumns    = []string{"call_id", "position", "action_key", "kind", "identifier", "name", "action_type",
		"description", "status", "error_message", "parameters_hard_coded", "parameters_from_llm", "return_value",
		"is_relevant", "ran_at", "undecoded", "raw"}
	judgementsTable   = pgx.Identifier{"call_judgements"}
	judgementsColumns = []string{"call_id", "criterion", "result", "value", "feedback"}
)

// stageCalls copies calls into the staging table, creating it first if
// this connection has none. The table is empty: see createStageSQL.
func stageCalls(ctx context.Context, tx pgx.Tx, calls []staged) error {
	var exists bool
	if err := tx.QueryRow(ctx, stageExistsSQL).Scan(&exists); err != nil {
		return fmt.Errorf("find staging table: %w", err)
	}
	if !exists {
		var lz4 bool
		if err := tx.QueryRow(ctx, lz4SupportedSQL).Scan(&lz4); err != nil {
			return fmt.Errorf("check lz4 support: %w", err)
		}
		compression := ""
		if lz4 {
			compression = "COMPRESSION lz4"
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(createStageSQL, "{compression}", compression)); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
	}
	row := make([]any, len(stageCallsColumns)) // CopyFrom encodes a row before asking for the next
	_, err := tx.CopyFrom(ctx, stageCallsTable, stageCallsColumns, pgx.CopyFromSlice(len(calls), func(i int) ([]any, error) {
		c := &calls[i]
		raw := c.Raw
		if raw == nil {
			raw = []byte("{}")
		}
		row[0], row[1], row[2], row[3], row[4] = c.ID, c.ModelID, c.Status, c.EndCallReason, c.CustomEndCallReason
		row[5], row[6], row[7], row[8], row[9] = c.TypeOfCall, c.CampaignType, c.PhoneNumberFrom, c.PhoneNumberTo, c.Name
		row[10], row[11], row[12], row[13], row[14] = c.StartedAt, c.DurationSeconds, c.Timezone, c.RecordingURL, c.ErrorMessage
		row[15], row[16], row[17], row[18] = c.ExecutedActions, c.PromptVariables, raw, c.PayloadHash
		row[19], row[20], row[21] = c.replaceTranscript, c.replaceVariables, c.Telephony != nil
		t := c.Telephony
		if t == nil {
			t = &Telephony{}
		}
		row[22], row[23], row[24], row[25], row[26], row[27] = t.Hangup, t.DisconnectReason, t.DurationMS,
			t.RingingDurationMS, t.StartedAt, t.EndedAt
		k := countsOf(c.Call)
		row[28], row[29], row[30], row[31], row[32] = c.Labels, c.AgentsUsed, c.AssistantVersion, c.LeadName, c.RecordingDuration
		row[33], row[34], row[35], row[36], row[37] = c.DeploymentType, c.AgentPhoneNumber, k.utterances, k.agentUtterances, k.humanUtterances
		row[38], row[39], row[40] = k.variables, k.variablesCollected, c.AnsweredByHuman
		row[41], row[42] = c.replaceActions, c.replaceJudgements
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("stage calls: %w", err)
	}
	return nil
}

// copyChildren copies the transcript lines and variables of calls into
// their tables. The merge has deleted the ones they replace.
func copyChildren(ctx context.Context, tx pgx.Tx, calls []staged) error {
	var lines, variables, actions, judgements int
	for _, c := range calls {
		lines += len(c.transcript)
		variables += len(c.variables)
		actions += len(c.actions)
		judgements += len(c.judgements)
	}
	if lines > 0 {
		if _, err := tx.CopyFrom(ctx, transcriptTable, transcriptColumns, &lineSource{calls: calls, line: -1}); err != nil {
			return fmt.Errorf("copy transcript lines: %w", err)
		}
	}
	if variables > 0 {
		if _, err := tx.CopyFrom(ctx, variablesTable, variablesColumns, &variableSource{calls: calls, v: -1}); err != nil {
			return fmt.Errorf("copy collected variables: %w", err)
		}
	}
	if actions > 0 {
		rows := make([][]any, 0, actions)
		for _, c := range calls {
			for _, a := range c.actions {
				rows = append(rows, []any{c.ID, a.Position, a.Key, a.Kind, a.Identifier, a.Name, a.ActionType,
					a.Description, a.Status, a.ErrorMessage, a.ParametersHardCoded, a.ParametersFromLLM, a.ReturnValue,
					a.IsRelevant, a.RanAt, a.Undecoded, actionRaw(a.Raw)})
			}
		}
		if _, err := tx.CopyFrom(ctx, actionsTable, actionsColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy call actions: %w", err)
		}
	}
	if judgements > 0 {
		rows := make([][]any, 0, judgements)
		for _, c := range calls {
			for _, j := range c.judgements {
				rows = append(rows, []any{c.ID, j.Criterion, j.Result, j.Value, j.Feedback})
			}
		}
		if _, err := tx.CopyFrom(ctx, judgementsTable, judgementsColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy call judgements: %w", err)
		}
	}
	return nil
}

// lineSource streams the transcript lines of calls to CopyFrom.
type lineSource struct {
	calls []staged
	call  int
	line  int
	row   [4]any
}

func (s *lineSource) Next() bool {
	s.line++
	for s.call < len(s.calls) && s.line >= len(s.calls[s.call].transcript) {
		s.call++
		s.line = 0
	}
	return s.call < len(s.calls)
}

func (s *lineSource) Values() ([]any, error) {
	c := &s.calls[s.call]
	l := &c.transcript[s.line]
	s.row = [4]any{c.ID, l.LineNo, l.Speaker, l.Text}
	return s.row[:], nil
}

func (s *lineSource) Err() error { return nil }

// variableSource streams the collected variables of calls to CopyFrom.
type variableSource struct {
	calls []staged
	call  int
	v     int
	row   [6]any
}

func (s *variableSource) Next() bool {
	s.v++
	for s.call < len(s.calls) && s.v >= len(s.calls[s.call].variables) {
		s.call++
		s.v = 0
	}
	return s.call < len(s.calls)
}

func (s *variableSource) Values() ([]any, error) {
	c := &s.calls[s.call]
	v := &c.variables[s.v]
	value := variableValue(v.Value)
	var shared []byte
	if c.shared[v.Name] {
		shared = value
	}
	s.row = [6]any{c.ID, v.AgentID, v.Name, value, v.Collected, shared}
	return s.row[:], nil
}

func (s *variableSource) Err() error { return nil }
