-- +goose Up
-- Views run with the rights of whoever queries them (security_invoker), so
-- that a role sees through a view only what it may read in the tables
-- below, and revoking a table or column from a role takes effect in every
-- view. The views that callsync_reader reads use no column holding a
-- direct identifier: call_facts reads calls.has_recording instead of the
-- recording URL, shows pseudonyms instead of numbers, and leaves lead_name
-- and agent_phone_number to calls (for the roles that may read them);
-- daily_action_outcomes reads call_actions.has_error_message instead of the
-- message; collected_variable_values shows the values of shared variables
-- only (collected_variables.shared_value).

ALTER TABLE call_actions ADD COLUMN has_error_message boolean GENERATED ALWAYS AS (error_message IS NOT NULL) STORED;

COMMENT ON COLUMN call_actions.has_error_message IS 'The action sent an error_message (for readers that may not read the message).';

CREATE OR REPLACE VIEW daily_action_outcomes AS
SELECT s.*, g.name AS agent_name
FROM  (SELECT (c.started_at AT TIME ZONE 'UTC')::date             AS day,
              c.model_id,
              a.kind,
              coalesce(a.identifier, a.name, a.action_key)        AS action,
              a.status,
              count(*)                                            AS actions,
              count(DISTINCT a.call_id)                           AS calls,
              count(*) FILTER (WHERE a.has_error_message
                                  OR a.status ~* '(fail|error|timeout)') AS failed,
              count(*) FILTER (WHERE a.has_error_message) AS with_error_message
       FROM   call_actions a
       JOIN   calls c ON c.call_id = a.call_id
       WHERE  c.started_at IS NOT NULL
       GROUP  BY 1, 2, 3, 4, 5) s
LEFT   JOIN agents g ON g.model_id = s.model_id;

DROP VIEW daily_call_stats;
DROP VIEW call_facts;

CREATE VIEW call_facts AS
SELECT c.call_id,
       c.model_id,
       c.type_of_call                                                         AS direction,
       c.campaign_type,
       c.status,
       nullif(c.end_call_reason, '')                                          AS end_call_reason,
       nullif(c.custom_end_call_reason, '')                                   AS custom_end_call_reason,
       c.started_at,
       (c.started_at AT TIME ZONE 'UTC')::date                                AS started_date_utc,
       extract(hour FROM c.started_at AT TIME ZONE 'UTC')::integer            AS started_hour_utc,
       coalesce(z.name, 'UTC')                                                AS local_timezone,
       (c.started_at AT TIME ZONE coalesce(z.name, 'UTC'))::date              AS started_date_local,
       extract(hour FROM c.started_at AT TIME ZONE coalesce(z.name, 'UTC'))::integer AS started_hour_local,
       c.duration_seconds,
       CASE WHEN t.duration_ms IS NOT NULL
            THEN round(greatest(t.duration_ms - coalesce(t.ringing_duration_ms, 0), 0) / 1000.0, 1)
            ELSE round(c.duration_seconds, 1)
       END                                                                    AS talk_seconds,
       round(t.ringing_duration_ms / 1000.0, 1)                               AS ring_seconds,
       CASE c.answered_by_human
            WHEN 'true'  THEN true
            WHEN 'false' THEN false
            ELSE coalesce(c.human_utterances, 0) > 0
                 AND c.status IS DISTINCT FROM 'hangup_on_voicemail'
                 AND c.status IS DISTINCT FROM 'left_voicemail'
                 AND coalesce(c.end_call_reason, '') NOT IN ('voicemail', 'voicemail_cut_off', 'voicemail_message_left')
       END                                                                    AS answered,
       coalesce(c.utterances, 0)                                              AS utterances,
       coalesce(c.agent_utterances, 0)                                        AS agent_utterances,
       coalesce(c.human_utterances, 0)                                        AS human_utterances,
       coalesce(c.utterances, 0) - coalesce(c.agent_utterances, 0) - coalesce(c.human_utterances, 0) AS other_utterances,
       coalesce(c.variables, 0)                                               AS variables,
       coalesce(c.variables_collected, 0)                                     AS variables_collected,
       c.has_recording,
       a.name                                                                 AS agent_name,
       c.status IN ('hangup_on_voicemail', 'left_voicemail')
           OR coalesce(c.end_call_reason, '') IN ('voicemail', 'voicemail_cut_off', 'voicemail_message_left') AS voicemail,
       nullif(c.answered_by_human, '')                                        AS answered_by_human,
       c.labels,
       c.agents_used,
       c.deployment_type,
       c.assistant_version,
       c.recording_duration,
       c.phone_number_from_pseudonym                                          AS caller_pseudonym,
       c.phone_number_to_pseudonym                                            AS callee_pseudonym
FROM   calls c
LEFT   JOIN call_telephony t ON t.call_id = c.call_id
LEFT   JOIN agents a ON a.model_id = c.model_id
LEFT   JOIN (SELECT lower(name) AS key, min(name) AS name FROM pg_timezone_names GROUP BY 1) z
       ON z.key = lower(c.timezone);

COMMENT ON VIEW call_facts IS 'One row per call, ready for dashboards: agent name, UTC and local dates and hours, outcome, whether a person answered, talk and ring time, transcript and variable counts. Counts are stored on calls when a call is written, so the view reads no transcript line; they survive retention clearing the lines.';
COMMENT ON COLUMN call_facts.call_id IS 'Synthflow call id (calls.call_id).';
COMMENT ON COLUMN call_facts.model_id IS 'The agent (Synthflow model) that handled the call.';
COMMENT ON COLUMN call_facts.direction IS 'inbound or outbound (also widget, web): calls.type_of_call.';
COMMENT ON COLUMN call_facts.campaign_type IS 'Campaign type, e.g. live or test.';
COMMENT ON COLUMN call_facts.status IS 'Call status: completed, failed, no-answer, busy, canceled, user-canceled, hangup_on_voicemail, left_voicemail, or a status that is not final yet.';
COMMENT ON COLUMN call_facts.end_call_reason IS 'Why the call ended, as sent (free text); NULL when empty or not sent.';
COMMENT ON COLUMN call_facts.custom_end_call_reason IS 'User-defined reason when end_call_reason is custom_end_call; NULL when empty or not sent. Only GET /v2/calls/{id} sends it: calls stored from list pages (backfill, poll) have it only after backfill --enrich or a webhook/enqueue fetch.';
COMMENT ON COLUMN call_facts.started_at IS 'When the call started (timestamptz).';
COMMENT ON COLUMN call_facts.started_date_utc IS 'UTC calendar date of started_at; indexed, the day of daily_call_stats.';
COMMENT ON COLUMN call_facts.started_hour_utc IS 'UTC hour of started_at, 0-23.';
COMMENT ON COLUMN call_facts.local_timezone IS 'Time zone of the local columns: calls.timezone when it names a zone PostgreSQL knows (pg_timezone_names, case-insensitive), else UTC (for NULL, empty or junk values such as ''string'').';
COMMENT ON COLUMN call_facts.started_date_local IS 'Calendar date of started_at in local_timezone.';
COMMENT ON COLUMN call_facts.started_hour_local IS 'Hour of started_at in local_timezone, 0-23.';
COMMENT ON COLUMN call_facts.duration_seconds IS 'Duration as Synthflow bills it, in seconds (includes PBX delay and ringing).';
COMMENT ON COLUMN call_facts.talk_seconds IS 'Conversation time in seconds, to 0.1 s: telephony duration minus ringing (call_telephony.duration_ms - ringing_duration_ms, ringing taken as 0 when unknown, never below 0) when the telephony duration is known, else duration_seconds.';
COMMENT ON COLUMN call_facts.ring_seconds IS 'Time ringing before the call was answered, in seconds (call_telephony.ringing_duration_ms / 1000); NULL when unknown.';
COMMENT ON COLUMN call_facts.answered IS 'A person answered. Rule: the answered_by_human judgement when it is true or false; otherwise a human spoke in the transcript (human_utterances > 0) and the call is not a voicemail (status hangup_on_voicemail or left_voicemail, or end_call_reason voicemail, voicemail_cut_off or voicemail_message_left). False when no transcript is stored and no judgement says so.';
COMMENT ON COLUMN call_facts.utterances IS 'Utterances in the transcript as last stored (calls.utterances, counted when written).';
COMMENT ON COLUMN call_facts.agent_utterances IS 'Utterances by the agent (speaker bot, assistant or agent).';
COMMENT ON COLUMN call_facts.human_utterances IS 'Utterances by the person called or calling (speaker human).';
COMMENT ON COLUMN call_facts.other_utterances IS 'Utterances by any other speaker, including text before the first speaker.';
COMMENT ON COLUMN call_facts.variables IS 'Collected variables stored for the call (calls.variables, counted when written).';
COMMENT ON COLUMN call_facts.variables_collected IS 'Of those, the ones the agent reports as collected.';
COMMENT ON COLUMN call_facts.has_recording IS 'A recording URL is stored (calls.has_recording; false once retention pruned it).';
COMMENT ON COLUMN call_facts.agent_name IS 'Name of the agent (agents.name); NULL when the agent was never listed by GET /v2/assistants/.';
COMMENT ON COLUMN call_facts.voicemail IS 'The call reached a voicemail: status hangup_on_voicemail or left_voicemail, or end_call_reason voicemail, voicemail_cut_off or voicemail_message_left.';
COMMENT ON COLUMN call_facts.answered_by_human IS 'The answered_by_human judgement: true, false, partial or not_applicable; NULL when not judged (list pages and verified webhooks carry judgements).';
COMMENT ON COLUMN call_facts.labels IS 'Labels of the call (list endpoint only).';
COMMENT ON COLUMN call_facts.agents_used IS 'Agents that took part, in multi-agent setups (list endpoint only).';
COMMENT ON COLUMN call_facts.deployment_type IS 'Channel that handled the call, e.g. telephony (list endpoint only).';
COMMENT ON COLUMN call_facts.assistant_version IS 'Version of the agent configuration (list endpoint only).';
COMMENT ON COLUMN call_facts.recording_duration IS 'Length of the recording as the list endpoint sends it (unit undocumented, seconds as observed).';
COMMENT ON COLUMN call_facts.caller_pseudonym IS 'Pseudonym of the calling number (calls.phone_number_from_pseudonym): the same number always gives the same value.';
COMMENT ON COLUMN call_facts.callee_pseudonym IS 'Pseudonym of the called number (calls.phone_number_to_pseudonym).';

CREATE VIEW daily_call_stats AS
SELECT s.*, a.name AS agent_name
FROM  (SELECT f.started_date_utc                                                        AS day,
              f.model_id,
              count(*)                                                                  AS calls,
              count(*) FILTER (WHERE f.answered)                                        AS answered,
              count(*) FILTER (WHERE f.status = 'completed')                            AS completed,
              count(*) FILTER (WHERE f.status = 'failed')                               AS failed,
              count(*) FILTER (WHERE f.status = 'no-answer')                            AS no_answer,
              count(*) FILTER (WHERE f.status IN ('hangup_on_voicemail', 'left_voicemail')) AS voicemail,
              count(*) FILTER (WHERE f.status = 'busy')                                 AS busy,
              round(count(*) FILTER (WHERE f.answered)::numeric / count(*), 4)          AS answer_rate,
              round(avg(f.duration_seconds), 1)                                         AS avg_duration_seconds,
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY f.duration_seconds))::numeric, 1) AS median_duration_seconds,
              round((percentile_cont(0.9) WITHIN GROUP (ORDER BY f.duration_seconds))::numeric, 1) AS p90_duration_seconds,
              round(coalesce(sum(f.talk_seconds), 0) / 60, 1)                           AS total_talk_minutes
       FROM   call_facts f
       WHERE  f.started_at IS NOT NULL
       GROUP  BY f.started_date_utc, f.model_id) s
LEFT   JOIN agents a ON a.model_id = s.model_id;

COMMENT ON VIEW daily_call_stats IS 'Calls per UTC day and agent (from call_facts): volume, outcomes, answer rate, duration statistics and talk time. Calls without a start time are left out. Rates and percentiles do not add up across rows: recompute them from call_facts for other groupings.';
COMMENT ON COLUMN daily_call_stats.day IS 'UTC date the calls started (call_facts.started_date_utc).';
COMMENT ON COLUMN daily_call_stats.model_id IS 'The agent; NULL groups calls without one.';
COMMENT ON COLUMN daily_call_stats.calls IS 'Calls that started that day.';
COMMENT ON COLUMN daily_call_stats.answered IS 'Calls a person answered (call_facts.answered: the answered_by_human judgement where present, else a human spoke and the call is not a voicemail).';
COMMENT ON COLUMN daily_call_stats.completed IS 'Calls with status completed.';
COMMENT ON COLUMN daily_call_stats.failed IS 'Calls with status failed.';
COMMENT ON COLUMN daily_call_stats.no_answer IS 'Calls with status no-answer.';
COMMENT ON COLUMN daily_call_stats.voicemail IS 'Calls with status hangup_on_voicemail or left_voicemail.';
COMMENT ON COLUMN daily_call_stats.busy IS 'Calls with status busy.';
COMMENT ON COLUMN daily_call_stats.answer_rate IS 'answered / calls, a fraction from 0 to 1, to 4 decimals.';
COMMENT ON COLUMN daily_call_stats.avg_duration_seconds IS 'Mean duration_seconds (billed duration) of the calls that have one, to 0.1 s.';
COMMENT ON COLUMN daily_call_stats.median_duration_seconds IS 'Median duration_seconds (interpolated), to 0.1 s.';
COMMENT ON COLUMN daily_call_stats.p90_duration_seconds IS '90th percentile of duration_seconds (interpolated), to 0.1 s.';
COMMENT ON COLUMN daily_call_stats.total_talk_minutes IS 'Sum of call_facts.talk_seconds in minutes, to 0.1 min.';
COMMENT ON COLUMN daily_call_stats.agent_name IS 'Name of the agent (agents.name); NULL when unknown.';

-- The view changes its value column's meaning: drop and create it.
DROP VIEW collected_variable_values;
CREATE VIEW collected_variable_values AS
SELECT v.call_id,
       c.model_id,
       c.started_at,
       v.agent_id,
       v.name                        AS variable,
       v.shared_value #>> '{}'       AS value,
       jsonb_typeof(v.shared_value)  AS value_type,
       v.collected,
       v.shared_value IS NOT NULL    AS shared
FROM   collected_variables v
JOIN   calls c ON c.call_id = v.call_id;

COMMENT ON VIEW collected_variable_values IS 'Collected variables flattened for pivoting: one row per call, agent and variable. Values only for variables in shared_variables (callsync variables share); the others show their name and whether they were collected.';
COMMENT ON COLUMN collected_variable_values.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN collected_variable_values.model_id IS 'The agent that handled the call (calls.model_id), for filtering.';
COMMENT ON COLUMN collected_variable_values.started_at IS 'When the call started (calls.started_at), for filtering.';
COMMENT ON COLUMN collected_variable_values.agent_id IS 'Agent level of the payload (collected_variables.agent_id); empty when the payload had none.';
COMMENT ON COLUMN collected_variable_values.variable IS 'Variable name.';
COMMENT ON COLUMN collected_variable_values.value IS 'The value as text (strings unquoted, numbers and booleans as written, objects and arrays as JSON text) when the variable is shared; NULL for a JSON null or a variable that is not shared.';
COMMENT ON COLUMN collected_variable_values.value_type IS 'JSON type of a shared value: string, number, boolean, null, object or array; NULL when the variable is not shared.';
COMMENT ON COLUMN collected_variable_values.collected IS 'Whether the agent reports the variable as collected; NULL when the payload does not say.';
COMMENT ON COLUMN collected_variable_values.shared IS 'The variable is in shared_variables: value and value_type are shown.';

-- Every view, those above and those of earlier migrations.
-- +goose StatementBegin
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v' LOOP
        EXECUTE format('ALTER VIEW public.%I SET (security_invoker = true)', v.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v' LOOP
        EXECUTE format('ALTER VIEW public.%I RESET (security_invoker)', v.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP VIEW collected_variable_values;
CREATE VIEW collected_variable_values AS
SELECT v.call_id,
       c.model_id,
       c.started_at,
       v.agent_id,
       v.name                 AS variable,
       v.value #>> '{}'       AS value,
       jsonb_typeof(v.value)  AS value_type,
       v.collected
FROM   collected_variables v
JOIN   calls c ON c.call_id = v.call_id;

COMMENT ON VIEW collected_variable_values IS 'Collected variables flattened for pivoting: one row per call, agent and variable, the value as text.';
COMMENT ON COLUMN collected_variable_values.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN collected_variable_values.model_id IS 'The agent that handled the call (calls.model_id), for filtering.';
COMMENT ON COLUMN collected_variable_values.started_at IS 'When the call started (calls.started_at), for filtering.';
COMMENT ON COLUMN collected_variable_values.agent_id IS 'Agent level of the payload (collected_variables.agent_id); empty when the payload had none.';
COMMENT ON COLUMN collected_variable_values.variable IS 'Variable name.';
COMMENT ON COLUMN collected_variable_values.value IS 'The value as text: strings unquoted, numbers and booleans as written, objects and arrays as JSON text; NULL for a JSON null.';
COMMENT ON COLUMN collected_variable_values.value_type IS 'JSON type of the value: string, number, boolean, null, object or array.';
COMMENT ON COLUMN collected_variable_values.collected IS 'Whether the agent reports the variable as collected; NULL when the payload does not say.';
DROP VIEW daily_call_stats;
DROP VIEW call_facts;
CREATE VIEW call_facts AS
SELECT c.call_id,
       c.model_id,
       c.type_of_call                                                         AS direction,
       c.campaign_type,
       c.status,
       nullif(c.end_call_reason, '')                                          AS end_call_reason,
       nullif(c.custom_end_call_reason, '')                                   AS custom_end_call_reason,
       c.started_at,
       (c.started_at AT TIME ZONE 'UTC')::date                                AS started_date_utc,
       extract(hour FROM c.started_at AT TIME ZONE 'UTC')::integer            AS started_hour_utc,
       coalesce(z.name, 'UTC')                                                AS local_timezone,
       (c.started_at AT TIME ZONE coalesce(z.name, 'UTC'))::date              AS started_date_local,
       extract(hour FROM c.started_at AT TIME ZONE coalesce(z.name, 'UTC'))::integer AS started_hour_local,
       c.duration_seconds,
       CASE WHEN t.duration_ms IS NOT NULL
            THEN round(greatest(t.duration_ms - coalesce(t.ringing_duration_ms, 0), 0) / 1000.0, 1)
            ELSE round(c.duration_seconds, 1)
       END                                                                    AS talk_seconds,
       round(t.ringing_duration_ms / 1000.0, 1)                               AS ring_seconds,
       CASE c.answered_by_human
            WHEN 'true'  THEN true
            WHEN 'false' THEN false
            ELSE coalesce(c.human_utterances, 0) > 0
                 AND c.status IS DISTINCT FROM 'hangup_on_voicemail'
                 AND c.status IS DISTINCT FROM 'left_voicemail'
                 AND coalesce(c.end_call_reason, '') NOT IN ('voicemail', 'voicemail_cut_off', 'voicemail_message_left')
       END                                                                    AS answered,
       coalesce(c.utterances, 0)                                              AS utterances,
       coalesce(c.agent_utterances, 0)                                        AS agent_utterances,
       coalesce(c.human_utterances, 0)                                        AS human_utterances,
       coalesce(c.utterances, 0) - coalesce(c.agent_utterances, 0) - coalesce(c.human_utterances, 0) AS other_utterances,
       coalesce(c.variables, 0)                                               AS variables,
       coalesce(c.variables_collected, 0)                                     AS variables_collected,
       coalesce(c.recording_url, '') <> ''                                    AS has_recording,
       a.name                                                                 AS agent_name,
       c.status IN ('hangup_on_voicemail', 'left_voicemail')
           OR coalesce(c.end_call_reason, '') IN ('voicemail', 'voicemail_cut_off', 'voicemail_message_left') AS voicemail,
       nullif(c.answered_by_human, '')                                        AS answered_by_human,
       c.lead_name,
       c.labels,
       c.agents_used,
       c.deployment_type,
       c.assistant_version,
       c.agent_phone_number,
       c.recording_duration
FROM   calls c
LEFT   JOIN call_telephony t ON t.call_id = c.call_id
LEFT   JOIN agents a ON a.model_id = c.model_id
LEFT   JOIN (SELECT lower(name) AS key, min(name) AS name FROM pg_timezone_names GROUP BY 1) z
       ON z.key = lower(c.timezone);

COMMENT ON VIEW call_facts IS 'One row per call, ready for dashboards: agent name, UTC and local dates and hours, outcome, whether a person answered, talk and ring time, transcript and variable counts. Counts are stored on calls when a call is written, so the view reads no transcript line; they survive retention clearing the lines.';
COMMENT ON COLUMN call_facts.call_id IS 'Synthflow call id (calls.call_id).';
COMMENT ON COLUMN call_facts.model_id IS 'The agent (Synthflow model) that handled the call.';
COMMENT ON COLUMN call_facts.direction IS 'inbound or outbound (also widget, web): calls.type_of_call.';
COMMENT ON COLUMN call_facts.campaign_type IS 'Campaign type, e.g. live or test.';
COMMENT ON COLUMN call_facts.status IS 'Call status: completed, failed, no-answer, busy, canceled, user-canceled, hangup_on_voicemail, left_voicemail, or a status that is not final yet.';
COMMENT ON COLUMN call_facts.end_call_reason IS 'Why the call ended, as sent (free text); NULL when empty or not sent.';
COMMENT ON COLUMN call_facts.custom_end_call_reason IS 'User-defined reason when end_call_reason is custom_end_call; NULL when empty or not sent. Only GET /v2/calls/{id} sends it: calls stored from list pages (backfill, poll) have it only after backfill --enrich or a webhook/enqueue fetch.';
COMMENT ON COLUMN call_facts.started_at IS 'When the call started (timestamptz).';
COMMENT ON COLUMN call_facts.started_date_utc IS 'UTC calendar date of started_at; indexed, the day of daily_call_stats.';
COMMENT ON COLUMN call_facts.started_hour_utc IS 'UTC hour of started_at, 0-23.';
COMMENT ON COLUMN call_facts.local_timezone IS 'Time zone of the local columns: calls.timezone when it names a zone PostgreSQL knows (pg_timezone_names, case-insensitive), else UTC (for NULL, empty or junk values such as ''string'').';
COMMENT ON COLUMN call_facts.started_date_local IS 'Calendar date of started_at in local_timezone.';
COMMENT ON COLUMN call_facts.started_hour_local IS 'Hour of started_at in local_timezone, 0-23.';
COMMENT ON COLUMN call_facts.duration_seconds IS 'Duration as Synthflow bills it, in seconds (includes PBX delay and ringing).';
COMMENT ON COLUMN call_facts.talk_seconds IS 'Conversation time in seconds, to 0.1 s: telephony duration minus ringing (call_telephony.duration_ms - ringing_duration_ms, ringing taken as 0 when unknown, never below 0) when the telephony duration is known, else duration_seconds.';
COMMENT ON COLUMN call_facts.ring_seconds IS 'Time ringing before the call was answered, in seconds (call_telephony.ringing_duration_ms / 1000); NULL when unknown.';
COMMENT ON COLUMN call_facts.answered IS 'A person answered. Rule: the answered_by_human judgement when it is true or false; otherwise a human spoke in the transcript (human_utterances > 0) and the call is not a voicemail (status hangup_on_voicemail or left_voicemail, or end_call_reason voicemail, voicemail_cut_off or voicemail_message_left). False when no transcript is stored and no judgement says so.';
COMMENT ON COLUMN call_facts.utterances IS 'Utterances in the transcript as last stored (calls.utterances, counted when written).';
COMMENT ON COLUMN call_facts.agent_utterances IS 'Utterances by the agent (speaker bot, assistant or agent).';
COMMENT ON COLUMN call_facts.human_utterances IS 'Utterances by the person called or calling (speaker human).';
COMMENT ON COLUMN call_facts.other_utterances IS 'Utterances by any other speaker, including text before the first speaker.';
COMMENT ON COLUMN call_facts.variables IS 'Collected variables stored for the call (calls.variables, counted when written).';
COMMENT ON COLUMN call_facts.variables_collected IS 'Of those, the ones the agent reports as collected.';
COMMENT ON COLUMN call_facts.has_recording IS 'A recording URL is stored (kept after Synthflow stops returning it).';
COMMENT ON COLUMN call_facts.agent_name IS 'Name of the agent (agents.name); NULL when the agent was never listed by GET /v2/assistants/.';
COMMENT ON COLUMN call_facts.voicemail IS 'The call reached a voicemail: status hangup_on_voicemail or left_voicemail, or end_call_reason voicemail, voicemail_cut_off or voicemail_message_left.';
COMMENT ON COLUMN call_facts.answered_by_human IS 'The answered_by_human judgement: true, false, partial or not_applicable; NULL when not judged (list pages and verified webhooks carry judgements).';
COMMENT ON COLUMN call_facts.lead_name IS 'Full name of the lead (list endpoint only).';
COMMENT ON COLUMN call_facts.labels IS 'Labels of the call (list endpoint only).';
COMMENT ON COLUMN call_facts.agents_used IS 'Agents that took part, in multi-agent setups (list endpoint only).';
COMMENT ON COLUMN call_facts.deployment_type IS 'Channel that handled the call, e.g. telephony (list endpoint only).';
COMMENT ON COLUMN call_facts.assistant_version IS 'Version of the agent configuration (list endpoint only).';
COMMENT ON COLUMN call_facts.agent_phone_number IS 'Phone number of the agent (list endpoint only).';
COMMENT ON COLUMN call_facts.recording_duration IS 'Length of the recording as the list endpoint sends it (unit undocumented, seconds as observed).';

CREATE VIEW daily_call_stats AS
SELECT s.*, a.name AS agent_name
FROM  (SELECT f.started_date_utc                                                        AS day,
              f.model_id,
              count(*)                                                                  AS calls,
              count(*) FILTER (WHERE f.answered)                                        AS answered,
              count(*) FILTER (WHERE f.status = 'completed')                            AS completed,
              count(*) FILTER (WHERE f.status = 'failed')                               AS failed,
              count(*) FILTER (WHERE f.status = 'no-answer')                            AS no_answer,
              count(*) FILTER (WHERE f.status IN ('hangup_on_voicemail', 'left_voicemail')) AS voicemail,
              count(*) FILTER (WHERE f.status = 'busy')                                 AS busy,
              round(count(*) FILTER (WHERE f.answered)::numeric / count(*), 4)          AS answer_rate,
              round(avg(f.duration_seconds), 1)                                         AS avg_duration_seconds,
              round((percentile_cont(0.5) WITHIN GROUP (ORDER BY f.duration_seconds))::numeric, 1) AS median_duration_seconds,
              round((percentile_cont(0.9) WITHIN GROUP (ORDER BY f.duration_seconds))::numeric, 1) AS p90_duration_seconds,
              round(coalesce(sum(f.talk_seconds), 0) / 60, 1)                           AS total_talk_minutes
       FROM   call_facts f
       WHERE  f.started_at IS NOT NULL
       GROUP  BY f.started_date_utc, f.model_id) s
LEFT   JOIN agents a ON a.model_id = s.model_id;

COMMENT ON VIEW daily_call_stats IS 'Calls per UTC day and agent (from call_facts): volume, outcomes, answer rate, duration statistics and talk time. Calls without a start time are left out. Rates and percentiles do not add up across rows: recompute them from call_facts for other groupings.';
COMMENT ON COLUMN daily_call_stats.day IS 'UTC date the calls started (call_facts.started_date_utc).';
COMMENT ON COLUMN daily_call_stats.model_id IS 'The agent; NULL groups calls without one.';
COMMENT ON COLUMN daily_call_stats.calls IS 'Calls that started that day.';
COMMENT ON COLUMN daily_call_stats.answered IS 'Calls a person answered (call_facts.answered: the answered_by_human judgement where present, else a human spoke and the call is not a voicemail).';
COMMENT ON COLUMN daily_call_stats.completed IS 'Calls with status completed.';
COMMENT ON COLUMN daily_call_stats.failed IS 'Calls with status failed.';
COMMENT ON COLUMN daily_call_stats.no_answer IS 'Calls with status no-answer.';
COMMENT ON COLUMN daily_call_stats.voicemail IS 'Calls with status hangup_on_voicemail or left_voicemail.';
COMMENT ON COLUMN daily_call_stats.busy IS 'Calls with status busy.';
COMMENT ON COLUMN daily_call_stats.answer_rate IS 'answered / calls, a fraction from 0 to 1, to 4 decimals.';
COMMENT ON COLUMN daily_call_stats.avg_duration_seconds IS 'Mean duration_seconds (billed duration) of the calls that have one, to 0.1 s.';
COMMENT ON COLUMN daily_call_stats.median_duration_seconds IS 'Median duration_seconds (interpolated), to 0.1 s.';
COMMENT ON COLUMN daily_call_stats.p90_duration_seconds IS '90th percentile of duration_seconds (interpolated), to 0.1 s.';
COMMENT ON COLUMN daily_call_stats.total_talk_minutes IS 'Sum of call_facts.talk_seconds in minutes, to 0.1 min.';
COMMENT ON COLUMN daily_call_stats.agent_name IS 'Name of the agent (agents.name); NULL when unknown.';

CREATE OR REPLACE VIEW daily_action_outcomes AS
SELECT s.*, g.name AS agent_name
FROM  (SELECT (c.started_at AT TIME ZONE 'UTC')::date             AS day,
              c.model_id,
              a.kind,
              coalesce(a.identifier, a.name, a.action_key)        AS action,
              a.status,
              count(*)                                            AS actions,
              count(DISTINCT a.call_id)                           AS calls,
              count(*) FILTER (WHERE a.error_message IS NOT NULL
                                  OR a.status ~* '(fail|error|timeout)') AS failed,
              count(*) FILTER (WHERE a.error_message IS NOT NULL) AS with_error_message
       FROM   call_actions a
       JOIN   calls c ON c.call_id = a.call_id
       WHERE  c.started_at IS NOT NULL
       GROUP  BY 1, 2, 3, 4, 5) s
LEFT   JOIN agents g ON g.model_id = s.model_id;
ALTER TABLE call_actions DROP COLUMN has_error_message;
