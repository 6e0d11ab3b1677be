-- +goose Up

-- call_facts reads the per-call counts stored on calls instead of counting
-- transcript_lines and collected_variables at query time, names the agent,
-- and says answered only when a person answered. Columns are appended, so
-- queries written for the old view keep working.
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
COMMENT ON COLUMN call_facts.custom_end_call_reason IS 'User-defined reason when end_call_reason is custom_end_call; NULL when empty or not sent. Only GET /v2/calls/{id} sends it: calls stored from list pages (backfill, poll) have it only after backfill --enrich or a webhook/enqueue fetch.';
COMMENT ON COLUMN call_facts.answered IS 'A person answered. Rule: the answered_by_human judgement when it is true or false; otherwise a human spoke in the transcript (human_utterances > 0) and the call is not a voicemail (status hangup_on_voicemail or left_voicemail, or end_call_reason voicemail, voicemail_cut_off or voicemail_message_left). False when no transcript is stored and no judgement says so.';
COMMENT ON COLUMN call_facts.utterances IS 'Utterances in the transcript as last stored (calls.utterances, counted when written).';
COMMENT ON COLUMN call_facts.agent_utterances IS 'Utterances by the agent (speaker bot, assistant or agent).';
COMMENT ON COLUMN call_facts.human_utterances IS 'Utterances by the person called or calling (speaker human).';
COMMENT ON COLUMN call_facts.other_utterances IS 'Utterances by any other speaker, including text before the first speaker.';
COMMENT ON COLUMN call_facts.variables IS 'Collected variables stored for the call (calls.variables, counted when written).';
COMMENT ON COLUMN call_facts.variables_collected IS 'Of those, the ones the agent reports as collected.';
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

COMMENT ON COLUMN calls.custom_end_call_reason IS 'User-defined reason, present only when end_call_reason is custom_end_call. Only GET /v2/calls/{id} sends it: calls stored from list pages (backfill, poll) have it only after backfill --enrich or a fetch of their own (webhook, enqueue).';
COMMENT ON COLUMN calls.prompt_variables IS 'Pre-call (custom) variables the call was started with. Only GET /v2/calls/{id} sends them: calls stored from list pages (backfill, poll) have them only after backfill --enrich or a fetch of their own (webhook, enqueue).';

CREATE OR REPLACE VIEW daily_call_stats AS
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

COMMENT ON COLUMN daily_call_stats.answered IS 'Calls a person answered (call_facts.answered: the answered_by_human judgement where present, else a human spoke and the call is not a voicemail).';
COMMENT ON COLUMN daily_call_stats.agent_name IS 'Name of the agent (agents.name); NULL when unknown.';

-- Where the daily views below filter by day.
CREATE INDEX call_actions_call_id_idx ON call_actions (call_id) INCLUDE (kind, status);

CREATE VIEW daily_action_outcomes AS
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

COMMENT ON VIEW daily_action_outcomes IS 'Executed actions per UTC day of the call, agent, action and outcome status (from call_actions): how many ran and how many failed. Calls without a start time are left out.';
COMMENT ON COLUMN daily_action_outcomes.day IS 'UTC date the calls started.';
COMMENT ON COLUMN daily_action_outcomes.model_id IS 'The agent; NULL groups calls without one.';
COMMENT ON COLUMN daily_action_outcomes.kind IS 'call_actions.kind: info_extractor, custom_function, live_transfer, other, unknown, ...';
COMMENT ON COLUMN daily_action_outcomes.action IS 'The action: the extractor identifier, else its name, else its key.';
COMMENT ON COLUMN daily_action_outcomes.status IS 'Outcome status (call_actions.status), e.g. transferred or transfer-failed-timeout; NULL when the action reported none.';
COMMENT ON COLUMN daily_action_outcomes.actions IS 'Executions of the action with that status.';
COMMENT ON COLUMN daily_action_outcomes.calls IS 'Calls in which they ran.';
COMMENT ON COLUMN daily_action_outcomes.failed IS 'Of the executions, those that failed: an error_message was sent, or the status contains fail, error or timeout (case-insensitive).';
COMMENT ON COLUMN daily_action_outcomes.with_error_message IS 'Of the executions, those with an error_message.';
COMMENT ON COLUMN daily_action_outcomes.agent_name IS 'Name of the agent (agents.name); NULL when unknown.';

CREATE VIEW daily_judgement_results AS
SELECT s.*, g.name AS agent_name
FROM  (SELECT (c.started_at AT TIME ZONE 'UTC')::date                     AS day,
              c.model_id,
              j.criterion,
              count(*)                                                    AS calls,
              count(*) FILTER (WHERE j.result = 'true')                   AS true_count,
              count(*) FILTER (WHERE j.result = 'false')                  AS false_count,
              count(*) FILTER (WHERE j.result = 'partial')                AS partial_count,
              count(*) FILTER (WHERE j.result = 'not_applicable')         AS not_applicable_count,
              count(*) FILTER (WHERE j.result IS NULL)                    AS other_count,
              round(count(*) FILTER (WHERE j.result = 'true')::numeric
                    / nullif(count(*) FILTER (WHERE j.result IN ('true', 'false', 'partial')), 0), 4) AS pass_rate
       FROM   call_judgements j
       JOIN   calls c ON c.call_id = j.call_id
       WHERE  c.started_at IS NOT NULL
       GROUP  BY 1, 2, 3) s
LEFT   JOIN agents g ON g.model_id = s.model_id;

COMMENT ON VIEW daily_judgement_results IS 'Call-quality judgements per UTC day of the call, agent and criterion (from call_judgements): how often each result was given. Only calls with judgements count (list pages and verified webhooks carry them). Calls without a start time are left out.';
COMMENT ON COLUMN daily_judgement_results.day IS 'UTC date the calls started.';
COMMENT ON COLUMN daily_judgement_results.model_id IS 'The agent; NULL groups calls without one.';
COMMENT ON COLUMN daily_judgement_results.criterion IS 'What was judged (call_judgements.criterion), e.g. goal, answered_by_human, judge_found_full_error.';
COMMENT ON COLUMN daily_judgement_results.calls IS 'Calls judged on the criterion (feedback-only rows included).';
COMMENT ON COLUMN daily_judgement_results.true_count IS 'Calls with result true.';
COMMENT ON COLUMN daily_judgement_results.false_count IS 'Calls with result false.';
COMMENT ON COLUMN daily_judgement_results.partial_count IS 'Calls with result partial.';
COMMENT ON COLUMN daily_judgement_results.not_applicable_count IS 'Calls with result not_applicable.';
COMMENT ON COLUMN daily_judgement_results.other_count IS 'Calls whose value is none of those (null, free text, feedback only).';
COMMENT ON COLUMN daily_judgement_results.pass_rate IS 'true / (true + false + partial), to 4 decimals; NULL when none of those.';
COMMENT ON COLUMN daily_judgement_results.agent_name IS 'Name of the agent (agents.name); NULL when unknown.';

-- Full-text search over transcript lines. The GIN index that makes it fast
-- (transcript_lines_search_idx) is switched on with callsync search-index on.
CREATE VIEW transcript_search AS
SELECT l.call_id,
       l.line_no,
       l.speaker,
       l.text,
       to_tsvector('simple', l.text) AS document
FROM   transcript_lines l;

COMMENT ON VIEW transcript_search IS 'Transcript lines with a full-text document for searching: WHERE document @@ websearch_to_tsquery(''simple'', ''cancel subscription''). Fast with the GIN index that callsync search-index on creates (transcript_lines_search_idx on to_tsvector(''simple'', text)); without it the search reads every line.';
COMMENT ON COLUMN transcript_search.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN transcript_search.line_no IS 'Position of the utterance in the transcript.';
COMMENT ON COLUMN transcript_search.speaker IS 'Who spoke: bot, human, assistant, ...';
COMMENT ON COLUMN transcript_search.text IS 'What was said.';
COMMENT ON COLUMN transcript_search.document IS 'to_tsvector(''simple'', text): words lower-cased, no stemming or stop words (transcripts come in many languages).';

-- +goose Down
DROP VIEW transcript_search;
DROP VIEW daily_judgement_results;
DROP VIEW daily_action_outcomes;
DROP INDEX call_actions_call_id_idx;
DROP VIEW daily_call_stats;
DROP VIEW call_facts;
-- The views of 00006, as they were.
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

COMMENT ON COLUMN calls.custom_end_call_reason IS 'User-defined reason, present only when end_call_reason is custom_end_call (get endpoint only).';
COMMENT ON COLUMN calls.prompt_variables IS 'Pre-call (custom) variables the call was started with (get endpoint only).';
