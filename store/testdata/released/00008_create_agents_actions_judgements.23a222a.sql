-- +goose Up

-- The agents of GET /v2/assistants/, so that every view can show a name
-- next to an agent id.
CREATE TABLE agents (
    model_id               text        PRIMARY KEY,
    name                   text,
    type                   text,
    phone_number           text,
    description            text,
    language               text,
    timezone               text,
    llm                    text,
    voice_id               text,
    is_recording           boolean,
    is_transcript_disabled boolean,
    redact_pii             boolean,
    raw                    jsonb       NOT NULL,
    first_seen_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at             timestamptz
);

CREATE INDEX agents_name_idx ON agents (name);

COMMENT ON TABLE agents IS 'One row per Synthflow agent (the API calls agents "models" and "assistants"), from GET /v2/assistants/. Refreshed by callsync run (at start, periodically and when a call names an unknown agent), callsync agents and callsync backfill --all-models. An agent no longer listed stays, with deleted_at set.';
COMMENT ON COLUMN agents.model_id IS 'Agent id: the model_id of its calls (calls.model_id).';
COMMENT ON COLUMN agents.name IS 'Display name of the agent as set in Synthflow; NULL when the API sent none.';
COMMENT ON COLUMN agents.type IS 'Kind of agent: outbound, inbound or widget (open text).';
COMMENT ON COLUMN agents.phone_number IS 'Phone number attached to the agent (E.164); NULL or empty when none.';
COMMENT ON COLUMN agents.description IS 'Free-text description of the agent.';
COMMENT ON COLUMN agents.language IS 'Language of the agent (agent.language), e.g. en-US.';
COMMENT ON COLUMN agents.timezone IS 'IANA time zone of the agent (agent.timezone).';
COMMENT ON COLUMN agents.llm IS 'Language model the agent runs on (agent.llm).';
COMMENT ON COLUMN agents.voice_id IS 'Voice of the agent (agent.voice_id).';
COMMENT ON COLUMN agents.is_recording IS 'Whether the agent records its calls.';
COMMENT ON COLUMN agents.is_transcript_disabled IS 'Whether transcripts are disabled for the agent (its calls then have none).';
COMMENT ON COLUMN agents.redact_pii IS 'Whether Synthflow redacts personal data from the agent''s transcripts and webhooks.';
COMMENT ON COLUMN agents.raw IS 'The agent object as last listed, unknown fields included, except external_webhook_url (it may carry a token).';
COMMENT ON COLUMN agents.first_seen_at IS 'When callsync first listed the agent.';
COMMENT ON COLUMN agents.last_seen_at IS 'When a listing last included the agent.';
COMMENT ON COLUMN agents.deleted_at IS 'When a complete listing first lacked the agent (deleted in Synthflow); NULL while it is listed. Its calls stay.';

-- One row per executed action of a call, decoded from calls.executed_actions.
CREATE TABLE call_actions (
    call_id               text    NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    position              integer NOT NULL,
    action_key            text    NOT NULL,
    kind                  text    NOT NULL,
    identifier            text,
    name                  text,
    action_type           text,
    description           text,
    status                text,
    error_message         text,
    parameters_hard_coded jsonb,
    parameters_from_llm   jsonb,
    return_value          jsonb,
    is_relevant           boolean,
    ran_at                timestamptz,
    undecoded             text[],
    raw                   jsonb   NOT NULL,
    PRIMARY KEY (call_id, position)
);

CREATE INDEX call_actions_status_idx ON call_actions (status) WHERE status IS NOT NULL;

COMMENT ON TABLE call_actions IS 'Actions the agent executed during a call (executed_actions), one row each, whatever shape the API sent: an object keyed by action or an array, keys with the extract_info_ (legacy) or info_extractor_ (current) prefix or none, inner fields as objects or JSON-encoded strings. Replaced when a payload carries executed_actions; a payload without them (absent or null) never erases what is stored.';
COMMENT ON COLUMN call_actions.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN call_actions.position IS 'Order of the action in executed_actions as sent: 1, 2, ...';
COMMENT ON COLUMN call_actions.action_key IS 'Key of the action in the executed_actions object, e.g. info_extractor_email; for an array, the entry''s name, else #position.';
COMMENT ON COLUMN call_actions.kind IS 'info_extractor for information extractors (either key prefix or action_type extract_info_action_type); otherwise action_type without its _action_type suffix (custom_function, ...); other for an object without action_type; unknown when the entry is not an object (raw keeps it).';
COMMENT ON COLUMN call_actions.identifier IS 'The action key without its extract_info_ or info_extractor_ prefix (an extractor''s identifier; may contain spaces); NULL for keys without those prefixes.';
COMMENT ON COLUMN call_actions.name IS 'name field of the action.';
COMMENT ON COLUMN call_actions.action_type IS 'action_type field as sent: extract_info_action_type, custom_function_action_type, ...';
COMMENT ON COLUMN call_actions.description IS 'description field of the action.';
COMMENT ON COLUMN call_actions.status IS 'Outcome of the action: return_value.status when the return value is an object with a text status (e.g. transfer-failed-timeout), else return_value_status when not empty; NULL when neither says.';
COMMENT ON COLUMN call_actions.error_message IS 'error_message of the action; NULL when empty or not sent (failed transfers often have none: see status).';
COMMENT ON COLUMN call_actions.parameters_hard_coded IS 'parameters_hard_coded, decoded when sent as a JSON-encoded string; a string that is not JSON is kept as a jsonb string (and named in undecoded).';
COMMENT ON COLUMN call_actions.parameters_from_llm IS 'parameters_from_llm, decoded like parameters_hard_coded.';
COMMENT ON COLUMN call_actions.return_value IS 'return_value, decoded like parameters_hard_coded: {}, {"id": null}, a scalar or a nested object. Extractor results are here, not in collected_variables.';
COMMENT ON COLUMN call_actions.is_relevant IS 'is_relevant_action (sent as the string "true" or a boolean); NULL when not sent or not a truth value.';
COMMENT ON COLUMN call_actions.ran_at IS 'When the action ran: timestamp (epoch seconds, a string float) or else timestamp_datetime (no offset, taken as UTC). Pre-call actions carry the time their configuration was created.';
COMMENT ON COLUMN call_actions.undecoded IS 'Names of the fields sent as strings that are not JSON and so are kept as jsonb strings; NULL when every string decoded.';
COMMENT ON COLUMN call_actions.raw IS 'The entry as sent, unchanged; for an entry that is not an object (unknown shape), the only record of it.';

-- One row per judged criterion of a call (judge_results on list pages,
-- analysis in the post-call webhook).
CREATE TABLE call_judgements (
    call_id   text NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    criterion text NOT NULL,
    result    text CHECK (result IN ('true', 'false', 'partial', 'not_applicable')),
    value     text,
    feedback  text,
    PRIMARY KEY (call_id, criterion)
);

CREATE INDEX call_judgements_criterion_idx ON call_judgements (criterion, result);

COMMENT ON TABLE call_judgements IS 'Call-quality judgements, one row per criterion: judge_results of GET /v2/calls pages, or analysis of a post-call webhook whose signature verified when the call''s payload carries none. Replaced when a payload carries a non-empty set; an absent, null or empty set never erases what is stored. GET /v2/calls/{id} never sends them: backfilled calls and webhook calls have them, calls only fetched one by one do not.';
COMMENT ON COLUMN call_judgements.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN call_judgements.criterion IS 'What was judged: persona, style, steps, goal, answered_by_human, call_completion, ... (the key without _feedback); the aggregates judge_found_partial_or_error and judge_found_full_error are rows too, and all_feedback is the row all.';
COMMENT ON COLUMN call_judgements.result IS 'The value normalized: true, false, partial or not_applicable (case and surrounding spaces ignored, booleans accepted); NULL for anything else (null, free text).';
COMMENT ON COLUMN call_judgements.value IS 'The value as sent, as text (strings unquoted, other JSON as written); NULL when null or not sent.';
COMMENT ON COLUMN call_judgements.feedback IS 'The criterion''s X_feedback text; NULL when not sent, empty when the criterion was met.';

ALTER TABLE calls
    ADD COLUMN labels               text[],
    ADD COLUMN agents_used          text[],
    ADD COLUMN assistant_version    text,
    ADD COLUMN lead_name            text,
    ADD COLUMN recording_duration   double precision,
    ADD COLUMN deployment_type      text,
    ADD COLUMN agent_phone_number   text,
    ADD COLUMN utterances           integer,
    ADD COLUMN agent_utterances     integer,
    ADD COLUMN human_utterances     integer,
    ADD COLUMN variables            integer,
    ADD COLUMN variables_collected  integer,
    ADD COLUMN answered_by_human    text;

COMMENT ON COLUMN calls.labels IS 'Labels of the call (list endpoint only); usually empty.';
COMMENT ON COLUMN calls.agents_used IS 'Ids of the agents that took part (list endpoint only; multi-agent setups), usually empty.';
COMMENT ON COLUMN calls.assistant_version IS 'Version of the agent configuration that handled the call (list endpoint only, undocumented).';
COMMENT ON COLUMN calls.lead_name IS 'Full name of the lead (list endpoint only); the get endpoint sends it as name.';
COMMENT ON COLUMN calls.recording_duration IS 'Length of the recording as sent (list endpoint only, a string; unit undocumented, seconds as observed); NULL when null or not numeric (raw keeps it).';
COMMENT ON COLUMN calls.deployment_type IS 'Channel that handled the call, e.g. telephony (list endpoint only).';
COMMENT ON COLUMN calls.agent_phone_number IS 'Phone number of the agent (list endpoint only).';
COMMENT ON COLUMN calls.utterances IS 'Utterances in the transcript as last stored, counted when written; kept when retention clears transcript_lines.';
COMMENT ON COLUMN calls.agent_utterances IS 'Of utterances, those by the agent (speaker bot, assistant or agent).';
COMMENT ON COLUMN calls.human_utterances IS 'Of utterances, those by the person (speaker human).';
COMMENT ON COLUMN calls.variables IS 'Collected variables as last stored, counted when written; kept when retention clears collected_variables.';
COMMENT ON COLUMN calls.variables_collected IS 'Of variables, those the agent reports as collected.';
COMMENT ON COLUMN calls.answered_by_human IS 'Result of the answered_by_human judgement as last stored (call_judgements.result): true, false, partial or not_applicable; empty when the stored judgements lack it or its result is not one of those; NULL when the call has no judgements. Kept on calls so that call_facts.answered needs no join.';

-- Calls stored before this migration get their counts once, from the rows stored now.
UPDATE calls c
SET    utterances       = coalesce(u.utterances, 0),
       agent_utterances = coalesce(u.agent_utterances, 0),
       human_utterances = coalesce(u.human_utterances, 0)
FROM  (SELECT call_id,
              count(*)::integer                                                          AS utterances,
              count(*) FILTER (WHERE speaker IN ('bot', 'assistant', 'agent'))::integer  AS agent_utterances,
              count(*) FILTER (WHERE speaker = 'human')::integer                         AS human_utterances
       FROM   transcript_lines GROUP BY call_id) u
WHERE  u.call_id = c.call_id;

UPDATE calls c
SET    variables           = v.variables,
       variables_collected = v.variables_collected
FROM  (SELECT call_id, count(*)::integer AS variables, count(*) FILTER (WHERE collected)::integer AS variables_collected
       FROM   collected_variables GROUP BY call_id) v
WHERE  v.call_id = c.call_id;

UPDATE calls
SET    utterances = coalesce(utterances, 0), agent_utterances = coalesce(agent_utterances, 0),
       human_utterances = coalesce(human_utterances, 0), variables = coalesce(variables, 0),
       variables_collected = coalesce(variables_collected, 0)
WHERE  utterances IS NULL OR variables IS NULL;

-- The analysis of a verified post-call webhook waits here until its call is stored.
ALTER TABLE sync_queue ADD COLUMN webhook_analysis jsonb;

COMMENT ON COLUMN sync_queue.webhook_analysis IS 'The analysis object of the last post-call webhook for the call whose signature verified; stored as the call''s judgements when the call is written and its payload carries none. Cleared when the call is stored.';

-- +goose Down
ALTER TABLE sync_queue DROP COLUMN webhook_analysis;
ALTER TABLE calls
    DROP COLUMN labels,
    DROP COLUMN agents_used,
    DROP COLUMN assistant_version,
    DROP COLUMN lead_name,
    DROP COLUMN recording_duration,
    DROP COLUMN deployment_type,
    DROP COLUMN agent_phone_number,
    DROP COLUMN utterances,
    DROP COLUMN agent_utterances,
    DROP COLUMN human_utterances,
    DROP COLUMN variables,
    DROP COLUMN variables_collected,
    DROP COLUMN answered_by_human;
DROP TABLE call_judgements;
DROP TABLE call_actions;
DROP TABLE agents;
