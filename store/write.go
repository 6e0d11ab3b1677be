package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const upsertCallSQL = `
INSERT INTO calls (
    call_id, model_id, status, end_call_reason, custom_end_call_reason, type_of_call,
    campaign_type, phone_number_from, phone_number_to, name, started_at, duration_seconds,
    timezone, recording_url, error_message, executed_actions, prompt_variables, raw, payload_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (call_id) DO UPDATE SET
    model_id               = COALESCE(EXCLUDED.model_id, calls.model_id),
    status                 = COALESCE(EXCLUDED.status, calls.status),
    end_call_reason        = COALESCE(EXCLUDED.end_call_reason, calls.end_call_reason),
    custom_end_call_reason = COALESCE(EXCLUDED.custom_end_call_reason, calls.custom_end_call_reason),
    type_of_call           = COALESCE(EXCLUDED.type_of_call, calls.type_of_call),
    campaign_type          = COALESCE(EXCLUDED.campaign_type, calls.campaign_type),
    phone_number_from      = COALESCE(EXCLUDED.phone_number_from, calls.phone_number_from),
    phone_number_to        = COALESCE(EXCLUDED.phone_number_to, calls.phone_number_to),
    name                   = COALESCE(EXCLUDED.name, calls.name),
    started_at             = COALESCE(EXCLUDED.started_at, calls.started_at),
    duration_seconds       = COALESCE(EXCLUDED.duration_seconds, calls.duration_seconds),
    timezone               = COALESCE(EXCLUDED.timezone, calls.timezone),
    recording_url          = COALESCE(EXCLUDED.recording_url, calls.recording_url),
    error_message          = COALESCE(EXCLUDED.error_message, calls.error_message),
    executed_actions       = COALESCE(EXCLUDED.executed_actions, calls.executed_actions),
    prompt_variables       = COALESCE(EXCLUDED.prompt_variables, calls.prompt_variables),
    raw                    = calls.raw || EXCLUDED.raw,
    payload_hash           = EXCLUDED.payload_hash,
    synced_at              = now()`

const deleteTranscriptSQL = `DELETE FROM transcript_lines WHERE call_id = $1`

const insertTranscriptSQL = `
INSERT INTO transcript_lines (call_id, line_no, speaker, text)
SELECT $1, l.line_no, l.speaker, l.text
FROM   unnest($2::integer[], $3::text[], $4::text[]) AS l(line_no, speaker, text)`

const deleteVariablesSQL = `DELETE FROM collected_variables WHERE call_id = $1`

const insertVariablesSQL = `
INSERT INTO collected_variables (call_id, agent_id, name, value, collected)
SELECT $1, v.agent_id, v.name, v.value::jsonb, v.collected
FROM   unnest($2::text[], $3::text[], $4::text[], $5::boolean[]) AS v(agent_id, name, value, collected)`

const upsertTelephonySQL = `
INSERT INTO call_telephony (call_id, hangup, disconnect_reason, duration_ms, ringing_duration_ms, started_at, ended_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (call_id) DO UPDATE SET
    hangup              = COALESCE(EXCLUDED.hangup, call_telephony.hangup),
    disconnect_reason   = COALESCE(EXCLUDED.disconnect_reason, call_telephony.disconnect_reason),
    duration_ms         = COALESCE(EXCLUDED.duration_ms, call_telephony.duration_ms),
    ringing_duration_ms = COALESCE(EXCLUDED.ringing_duration_ms, call_telephony.ringing_duration_ms),
    started_at          = COALESCE(EXCLUDED.started_at, call_telephony.started_at),
    ended_at            = COALESCE(EXCLUDED.ended_at, call_telephony.ended_at)`

// SaveCalls writes calls in one transaction, without touching the queue,
// and returns how many were unchanged (same payload hash as stored: only
// synced_at touched). Backfills use it to store calls read from list pages.
func (db *DB) SaveCalls(ctx context.Context, calls []Call) (unchanged int, err error) {
	if len(calls) == 0 {
		return 0, nil
	}
	err = db.beginFunc(ctx, func(tx pgx.Tx) error {
		unchanged, err = writeCalls(ctx, tx, calls)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("save %d calls: %w", len(calls), err)
	}
	return unchanged, nil
}

// writeCalls stores calls on tx and returns how many were unchanged.
// Duplicate ids in calls are written in order, the last one winning.
func writeCalls(ctx context.Context, tx pgx.Tx, calls []Call) (unchanged int, err error) {
	b := &pgx.Batch{}
	for i := range calls {
		queueCall(b, &calls[i])
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, err
	}
	return 0, nil
}

func queueCall(b *pgx.Batch, c *Call) {
	raw := c.Raw
	if raw == nil {
		raw = []byte("{}")
	}
	b.Queue(upsertCallSQL, c.ID, c.ModelID, c.Status, c.EndCallReason, c.CustomEndCallReason,
		c.TypeOfCall, c.CampaignType, c.PhoneNumberFrom, c.PhoneNumberTo, c.Name, c.StartedAt,
		c.DurationSeconds, c.Timezone, c.RecordingURL, c.ErrorMessage, jsonArg(c.ExecutedActions),
		jsonArg(c.PromptVariables), string(raw), c.PayloadHash)
	if c.Transcript != nil {
		b.Queue(deleteTranscriptSQL, c.ID)
		n := len(c.Transcript)
		nos, speakers, texts := make([]int32, n), make([]string, n), make([]string, n)
		for i, l := range c.Transcript {
			nos[i], speakers[i], texts[i] = l.LineNo, l.Speaker, l.Text
		}
		b.Queue(insertTranscriptSQL, c.ID, nos, speakers, texts)
	}
	if c.Variables != nil {
		b.Queue(deleteVariablesSQL, c.ID)
		n := len(c.Variables)
		agents, names, values, collected := make([]string, n), make([]string, n), make([]string, n), make([]*bool, n)
		for i, v := range c.Variables {
			agents[i], names[i], values[i], collected[i] = v.AgentID, v.Name, string(v.Value), v.Collected
			if v.Value == nil {
				values[i] = "null"
			}
		}
		b.Queue(insertVariablesSQL, c.ID, agents, names, values, collected)
	}
	if t := c.Telephony; t != nil {
		b.Queue(upsertTelephonySQL, c.ID, t.Hangup, t.DisconnectReason, t.DurationMS,
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
