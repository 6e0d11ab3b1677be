-- +goose Up
-- Views run with the rights of whoever queries them (security_invoker), so
-- that a role sees through a view only what it may read in the tables
-- below, and revoking a table or column from a role takes effect in every
-- view. call_facts reads calls.has_recording instead of the recording URL;
-- collected_variable_values shows the values of shared variables only
-- (collected_variables.shared_value); the full values stay in
-- collected_variables for the roles that may read them.
CREATE OR REPLACE VIEW call_facts AS
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
       -- EXISTS rather than human_utterances > 0: queries that need only this skip counting every line.
       EXISTS (SELECT FROM transcript_lines h WHERE h.call_id = c.call_id AND h.speaker = 'human') AS answered,
       u.utterances,
       u.agent_utterances,
       u.human_utterances,
       u.utterances - u.agent_utterances - u.human_utterances                 AS other_utterances,
       v.variables,
       v.variables_collected,
       c.has_recording,
       c.phone_number_from_pseudonym                                          AS caller_pseudonym,
       c.phone_number_to_pseudonym                                            AS callee_pseudonym
FROM   calls c
LEFT   JOIN call_telephony t ON t.call_id = c.call_id
-- Only names PostgreSQL knows are used: AT TIME ZONE would fail the whole query on junk such as 'string'.
LEFT   JOIN (SELECT lower(name) AS key, min(name) AS name FROM pg_timezone_names GROUP BY 1) z
       ON z.key = lower(c.timezone)
CROSS  JOIN LATERAL (
       SELECT count(*)::integer                                                  AS utterances,
              count(*) FILTER (WHERE l.speaker IN ('bot', 'assistant', 'agent'))::integer AS agent_utterances,
              count(*) FILTER (WHERE l.speaker = 'human')::integer                AS human_utterances
       FROM   transcript_lines l
       WHERE  l.call_id = c.call_id) u
CROSS  JOIN LATERAL (
       SELECT count(*)::integer                                  AS variables,
              count(*) FILTER (WHERE cv.collected)::integer      AS variables_collected
       FROM   collected_variables cv
       WHERE  cv.call_id = c.call_id) v;

COMMENT ON COLUMN call_facts.caller_pseudonym IS 'Pseudonym of the calling number (calls.phone_number_from_pseudonym): the same number always gives the same value.';
COMMENT ON COLUMN call_facts.callee_pseudonym IS 'Pseudonym of the called number (calls.phone_number_to_pseudonym).';

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

ALTER VIEW call_facts SET (security_invoker = true);
ALTER VIEW daily_call_stats SET (security_invoker = true);
ALTER VIEW collected_variable_values SET (security_invoker = true);
ALTER VIEW sync_health SET (security_invoker = true);

-- +goose Down
ALTER VIEW call_facts RESET (security_invoker);
ALTER VIEW daily_call_stats RESET (security_invoker);
ALTER VIEW collected_variable_values RESET (security_invoker);
ALTER VIEW sync_health RESET (security_invoker);
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
       -- EXISTS rather than human_utterances > 0: queries that need only this skip counting every line.
       EXISTS (SELECT FROM transcript_lines h WHERE h.call_id = c.call_id AND h.speaker = 'human') AS answered,
       u.utterances,
       u.agent_utterances,
       u.human_utterances,
       u.utterances - u.agent_utterances - u.human_utterances                 AS other_utterances,
       v.variables,
       v.variables_collected,
       coalesce(c.recording_url, '') <> ''                                    AS has_recording
FROM   calls c
LEFT   JOIN call_telephony t ON t.call_id = c.call_id
-- Only names PostgreSQL knows are used: AT TIME ZONE would fail the whole query on junk such as 'string'.
LEFT   JOIN (SELECT lower(name) AS key, min(name) AS name FROM pg_timezone_names GROUP BY 1) z
       ON z.key = lower(c.timezone)
CROSS  JOIN LATERAL (
       SELECT count(*)::integer                                                  AS utterances,
              count(*) FILTER (WHERE l.speaker IN ('bot', 'assistant', 'agent'))::integer AS agent_utterances,
              count(*) FILTER (WHERE l.speaker = 'human')::integer                AS human_utterances
       FROM   transcript_lines l
       WHERE  l.call_id = c.call_id) u
CROSS  JOIN LATERAL (
       SELECT count(*)::integer                                  AS variables,
              count(*) FILTER (WHERE cv.collected)::integer      AS variables_collected
       FROM   collected_variables cv
       WHERE  cv.call_id = c.call_id) v;

COMMENT ON VIEW call_facts IS 'One row per call, ready for dashboards: UTC and local dates and hours, outcome, talk and ring time, transcript and variable counts. Derived from calls, call_telephony, transcript_lines and collected_variables at query time.';
COMMENT ON COLUMN call_facts.call_id IS 'Synthflow call id (calls.call_id).';
COMMENT ON COLUMN call_facts.model_id IS 'The agent (Synthflow model) that handled the call.';
COMMENT ON COLUMN call_facts.direction IS 'inbound or outbound (also widget, web): calls.type_of_call.';
COMMENT ON COLUMN call_facts.campaign_type IS 'Campaign type, e.g. live or test.';
COMMENT ON COLUMN call_facts.status IS 'Call status: completed, failed, no-answer, busy, canceled, user-canceled, hangup_on_voicemail, left_voicemail, or a status that is not final yet.';
COMMENT ON COLUMN call_facts.end_call_reason IS 'Why the call ended, as sent (free text); NULL when empty or not sent.';
COMMENT ON COLUMN call_facts.custom_end_call_reason IS 'User-defined reason when end_call_reason is custom_end_call; NULL when empty or not sent.';
COMMENT ON COLUMN call_facts.started_at IS 'When the call started (timestamptz).';
COMMENT ON COLUMN call_facts.started_date_utc IS 'UTC calendar date of started_at; indexed, the day of daily_call_stats.';
COMMENT ON COLUMN call_facts.started_hour_utc IS 'UTC hour of started_at, 0-23.';
COMMENT ON COLUMN call_facts.local_timezone IS 'Time zone of the local columns: calls.timezone when it names a zone PostgreSQL knows (pg_timezone_names, case-insensitive), else UTC (for NULL, empty or junk values such as ''string'').';
COMMENT ON COLUMN call_facts.started_date_local IS 'Calendar date of started_at in local_timezone.';
COMMENT ON COLUMN call_facts.started_hour_local IS 'Hour of started_at in local_timezone, 0-23.';
COMMENT ON COLUMN call_facts.duration_seconds IS 'Duration as Synthflow bills it, in seconds (includes PBX delay and ringing).';
COMMENT ON COLUMN call_facts.talk_seconds IS 'Conversation time in seconds, to 0.1 s: telephony duration minus ringing (call_telephony.duration_ms - ringing_duration_ms, ringing taken as 0 when unknown, never below 0) when the telephony duration is known, else duration_seconds.';
COMMENT ON COLUMN call_facts.ring_seconds IS 'Time ringing before the call was answered, in seconds (call_telephony.ringing_duration_ms / 1000); NULL when unknown.';
COMMENT ON COLUMN call_facts.answered IS 'A human spoke: the transcript has at least one utterance by speaker human. False when no transcript is stored.';
COMMENT ON COLUMN call_facts.utterances IS 'Utterances in the stored transcript.';
COMMENT ON COLUMN call_facts.agent_utterances IS 'Utterances by the agent (speaker bot, assistant or agent).';
COMMENT ON COLUMN call_facts.human_utterances IS 'Utterances by the person called or calling (speaker human).';
COMMENT ON COLUMN call_facts.other_utterances IS 'Utterances by any other speaker, including text before the first speaker.';
COMMENT ON COLUMN call_facts.variables IS 'Variables stored for the call (collected_variables rows).';
COMMENT ON COLUMN call_facts.variables_collected IS 'Of those, the ones the agent reports as collected (collected is true).';
COMMENT ON COLUMN call_facts.has_recording IS 'A recording URL is stored (kept after Synthflow stops returning it).';

CREATE VIEW daily_call_stats AS
SELECT f.started_date_utc                                                        AS day,
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
GROUP  BY f.started_date_utc, f.model_id;

COMMENT ON VIEW daily_call_stats IS 'Calls per UTC day and agent (from call_facts): volume, outcomes, answer rate, duration statistics and talk time. Calls without a start time are left out. Rates and percentiles do not add up across rows: recompute them from call_facts for other groupings.';
COMMENT ON COLUMN daily_call_stats.day IS 'UTC date the calls started (call_facts.started_date_utc).';
COMMENT ON COLUMN daily_call_stats.model_id IS 'The agent; NULL groups calls without one.';
COMMENT ON COLUMN daily_call_stats.calls IS 'Calls that started that day.';
COMMENT ON COLUMN daily_call_stats.answered IS 'Calls in which a human spoke (call_facts.answered).';
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
