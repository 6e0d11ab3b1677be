-- +goose Up
CREATE TABLE calls (
    call_id                text PRIMARY KEY,
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
    executed_actions       jsonb,
    prompt_variables       jsonb,
    raw                    jsonb       NOT NULL,
    payload_hash           bytea,
    first_synced_at        timestamptz NOT NULL DEFAULT now(),
    synced_at              timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX calls_started_at_idx ON calls (started_at);
CREATE INDEX calls_model_id_started_at_idx ON calls (model_id, started_at);
CREATE INDEX calls_status_idx ON calls (status);

COMMENT ON TABLE calls IS 'One row per Synthflow call, as last fetched from the API. A field the API stops sending (absent or null; for recording_url also empty) keeps its stored value.';
COMMENT ON COLUMN calls.call_id IS 'Synthflow call id: Bubble-style (1725527007259x327898249603432960) or UUID.';
COMMENT ON COLUMN calls.model_id IS 'Id of the Synthflow agent (the API calls agents "models") that handled the call.';
COMMENT ON COLUMN calls.status IS 'Call status: status (get endpoint, webhook) or call_status (list endpoint). Final: completed, failed, no-answer, busy, canceled, user-canceled, hangup_on_voicemail, left_voicemail. Anything else (in-progress, queue, ...) may still change.';
COMMENT ON COLUMN calls.end_call_reason IS 'Why the call ended, as free text (the API uses several vocabularies: human_pick_up_cut_off, agent_goodbye, voicemail, custom_end_call, ...).';
COMMENT ON COLUMN calls.custom_end_call_reason IS 'User-defined reason, present only when end_call_reason is custom_end_call (get endpoint only).';
COMMENT ON COLUMN calls.type_of_call IS 'Direction: inbound or outbound (widget and web also occur).';
COMMENT ON COLUMN calls.campaign_type IS 'Campaign type, e.g. live or test.';
COMMENT ON COLUMN calls.phone_number_from IS 'Calling number (E.164).';
COMMENT ON COLUMN calls.phone_number_to IS 'Called number (E.164).';
COMMENT ON COLUMN calls.name IS 'Name of the lead (recipient); often empty.';
COMMENT ON COLUMN calls.started_at IS 'When the call started (start_time: epoch milliseconds or ISO 8601).';
COMMENT ON COLUMN calls.duration_seconds IS 'Call duration in seconds as Synthflow bills it (includes PBX delay and ringing).';
COMMENT ON COLUMN calls.timezone IS 'IANA time zone of the call or its agent, e.g. Europe/Madrid.';
COMMENT ON COLUMN calls.recording_url IS 'URL of the call recording. Kept after Synthflow stops returning it (retention).';
COMMENT ON COLUMN calls.error_message IS 'Error text for failed calls (e.g. "608: Rejected"); empty when none.';
COMMENT ON COLUMN calls.executed_actions IS 'Actions the agent executed, as sent (object keyed by action name; nested values are often JSON-encoded strings).';
COMMENT ON COLUMN calls.prompt_variables IS 'Pre-call (custom) variables the call was started with (get endpoint only).';
COMMENT ON COLUMN calls.raw IS 'The call object as received, unknown fields included; keys of earlier payloads that a later one lacks are kept (get and list payloads differ).';
COMMENT ON COLUMN calls.payload_hash IS 'SHA-256 of the normalized payload; a re-sync with the same hash touches only synced_at.';
COMMENT ON COLUMN calls.first_synced_at IS 'When callsync first stored the call.';
COMMENT ON COLUMN calls.synced_at IS 'When callsync last fetched and stored the call.';

CREATE TABLE transcript_lines (
    call_id text    NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    line_no integer NOT NULL,
    speaker text    NOT NULL,
    text    text    NOT NULL,
    PRIMARY KEY (call_id, line_no)
);

COMMENT ON TABLE transcript_lines IS 'The call transcript split into utterances, in order. Replaced when a new non-empty transcript arrives; an empty one never erases what is stored.';
COMMENT ON COLUMN transcript_lines.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN transcript_lines.line_no IS 'Position of the utterance in the transcript: 1, 2, ...';
COMMENT ON COLUMN transcript_lines.speaker IS 'Who spoke: bot, human, assistant, ... (the lowercase word before the colon); empty for text before the first speaker.';
COMMENT ON COLUMN transcript_lines.text IS 'What was said. Continuation lines without a speaker are joined with a newline.';

CREATE TABLE collected_variables (
    call_id   text    NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    agent_id  text    NOT NULL,
    name      text    NOT NULL,
    value     jsonb   NOT NULL,
    collected boolean,
    PRIMARY KEY (call_id, agent_id, name)
);

CREATE INDEX collected_variables_name_idx ON collected_variables (name);

COMMENT ON TABLE collected_variables IS 'Variables the agent collected during the call. Replaced when a new non-empty set arrives; an empty or null set never erases what is stored.';
COMMENT ON COLUMN collected_variables.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN collected_variables.agent_id IS 'Agent that collected the variable; empty when the payload has no agent level.';
COMMENT ON COLUMN collected_variables.name IS 'Variable name.';
COMMENT ON COLUMN collected_variables.value IS 'The value as sent, any JSON type; a JSON null stays the jsonb null. Use value #>> ''{}'' for text.';
COMMENT ON COLUMN collected_variables.collected IS 'Whether the agent reports the variable as collected; NULL when the payload does not say.';

CREATE TABLE call_telephony (
    call_id             text PRIMARY KEY REFERENCES calls (call_id) ON DELETE CASCADE,
    hangup              text,
    disconnect_reason   text,
    duration_ms         bigint,
    ringing_duration_ms bigint,
    started_at          timestamptz,
    ended_at            timestamptz
);

COMMENT ON TABLE call_telephony IS 'Telephony timings of a call (the telephony_* fields). Absent or null fields keep their stored values.';
COMMENT ON COLUMN call_telephony.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN call_telephony.hangup IS 'Which party hung up: caller, callee or agent.';
COMMENT ON COLUMN call_telephony.disconnect_reason IS 'Why the line dropped: callee_hangup, caller_hangup, error, forbidden, unknown, ...';
COMMENT ON COLUMN call_telephony.duration_ms IS 'Telephony duration in milliseconds.';
COMMENT ON COLUMN call_telephony.ringing_duration_ms IS 'Time ringing before the call was answered, in milliseconds (as the API documents it).';
COMMENT ON COLUMN call_telephony.started_at IS 'Telephony start; timestamps sent without an offset are taken as UTC. NULL when the API sent none or an object.';
COMMENT ON COLUMN call_telephony.ended_at IS 'Telephony end; timestamps sent without an offset are taken as UTC.';

-- +goose Down
DROP TABLE call_telephony;
DROP TABLE collected_variables;
DROP TABLE transcript_lines;
DROP TABLE calls;
