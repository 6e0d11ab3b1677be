-- +goose Up
-- Synthflow drops recording_url from its payloads on 2027-01-10, and calls.has_recording is
-- generated from it: from then on it is false for every new call. call_facts.has_recording also
-- counts a recording archived into the user's storage (recordings.archived), so that dashboards
-- keep counting recorded calls. The reader may read recordings.archived (deploy/sql/roles.sql).
CREATE OR REPLACE VIEW call_facts WITH (security_invoker='true') AS
 SELECT c.call_id,
    c.model_id,
    c.type_of_call AS direction,
    c.campaign_type,
    c.status,
    NULLIF(c.end_call_reason, ''::text) AS end_call_reason,
    NULLIF(c.custom_end_call_reason, ''::text) AS custom_end_call_reason,
    c.started_at,
    ((c.started_at AT TIME ZONE 'UTC'::text))::date AS started_date_utc,
    (EXTRACT(hour FROM (c.started_at AT TIME ZONE 'UTC'::text)))::integer AS started_hour_utc,
    COALESCE(z.name, 'UTC'::text) AS local_timezone,
    ((c.started_at AT TIME ZONE COALESCE(z.name, 'UTC'::text)))::date AS started_date_local,
    (EXTRACT(hour FROM (c.started_at AT TIME ZONE COALESCE(z.name, 'UTC'::text))))::integer AS started_hour_local,
    c.duration_seconds,
        CASE
            WHEN (t.duration_ms IS NOT NULL) THEN round(((GREATEST((t.duration_ms - COALESCE(t.ringing_duration_ms, (0)::bigint)), (0)::bigint))::numeric / 1000.0), 1)
            ELSE round((c.duration_seconds)::numeric, 1)
        END AS talk_seconds,
    round(((t.ringing_duration_ms)::numeric / 1000.0), 1) AS ring_seconds,
        CASE c.answered_by_human
            WHEN 'true'::text THEN true
            WHEN 'false'::text THEN false
            ELSE ((COALESCE(c.human_utterances, 0) > 0) AND (c.status IS DISTINCT FROM 'hangup_on_voicemail'::text) AND (c.status IS DISTINCT FROM 'left_voicemail'::text) AND (COALESCE(c.end_call_reason, ''::text) <> ALL (ARRAY['voicemail'::text, 'voicemail_cut_off'::text, 'voicemail_message_left'::text])))
        END AS answered,
    COALESCE(c.utterances, 0) AS utterances,
    COALESCE(c.agent_utterances, 0) AS agent_utterances,
    COALESCE(c.human_utterances, 0) AS human_utterances,
    ((COALESCE(c.utterances, 0) - COALESCE(c.agent_utterances, 0)) - COALESCE(c.human_utterances, 0)) AS other_utterances,
    COALESCE(c.variables, 0) AS variables,
    COALESCE(c.variables_collected, 0) AS variables_collected,
    (c.has_recording OR EXISTS ( SELECT 1
           FROM public.recordings r
          WHERE ((r.call_id = c.call_id) AND r.archived))) AS has_recording,
    a.name AS agent_name,
    ((c.status = ANY (ARRAY['hangup_on_voicemail'::text, 'left_voicemail'::text])) OR (COALESCE(c.end_call_reason, ''::text) = ANY (ARRAY['voicemail'::text, 'voicemail_cut_off'::text, 'voicemail_message_left'::text]))) AS voicemail,
    NULLIF(c.answered_by_human, ''::text) AS answered_by_human,
    c.labels,
    c.agents_used,
    c.deployment_type,
    c.assistant_version,
    c.recording_duration,
    c.phone_number_from_pseudonym AS caller_pseudonym,
    c.phone_number_to_pseudonym AS callee_pseudonym
   FROM (((public.calls c
     LEFT JOIN public.call_telephony t ON ((t.call_id = c.call_id)))
     LEFT JOIN public.agents a ON ((a.model_id = c.model_id)))
     LEFT JOIN ( SELECT lower(pg_timezone_names.name) AS key,
            min(pg_timezone_names.name) AS name
           FROM pg_timezone_names
          GROUP BY (lower(pg_timezone_names.name))) z ON ((z.key = lower(c.timezone))));

COMMENT ON COLUMN call_facts.has_recording IS 'The call has a recording: its URL is stored (calls.has_recording; false once retention pruned it), or callsync archived it (recordings.archived).';

-- +goose Down
CREATE OR REPLACE VIEW call_facts WITH (security_invoker='true') AS
 SELECT c.call_id,
    c.model_id,
    c.type_of_call AS direction,
    c.campaign_type,
    c.status,
    NULLIF(c.end_call_reason, ''::text) AS end_call_reason,
    NULLIF(c.custom_end_call_reason, ''::text) AS custom_end_call_reason,
    c.started_at,
    ((c.started_at AT TIME ZONE 'UTC'::text))::date AS started_date_utc,
    (EXTRACT(hour FROM (c.started_at AT TIME ZONE 'UTC'::text)))::integer AS started_hour_utc,
    COALESCE(z.name, 'UTC'::text) AS local_timezone,
    ((c.started_at AT TIME ZONE COALESCE(z.name, 'UTC'::text)))::date AS started_date_local,
    (EXTRACT(hour FROM (c.started_at AT TIME ZONE COALESCE(z.name, 'UTC'::text))))::integer AS started_hour_local,
    c.duration_seconds,
        CASE
            WHEN (t.duration_ms IS NOT NULL) THEN round(((GREATEST((t.duration_ms - COALESCE(t.ringing_duration_ms, (0)::bigint)), (0)::bigint))::numeric / 1000.0), 1)
            ELSE round((c.duration_seconds)::numeric, 1)
        END AS talk_seconds,
    round(((t.ringing_duration_ms)::numeric / 1000.0), 1) AS ring_seconds,
        CASE c.answered_by_human
            WHEN 'true'::text THEN true
            WHEN 'false'::text THEN false
            ELSE ((COALESCE(c.human_utterances, 0) > 0) AND (c.status IS DISTINCT FROM 'hangup_on_voicemail'::text) AND (c.status IS DISTINCT FROM 'left_voicemail'::text) AND (COALESCE(c.end_call_reason, ''::text) <> ALL (ARRAY['voicemail'::text, 'voicemail_cut_off'::text, 'voicemail_message_left'::text])))
        END AS answered,
    COALESCE(c.utterances, 0) AS utterances,
    COALESCE(c.agent_utterances, 0) AS agent_utterances,
    COALESCE(c.human_utterances, 0) AS human_utterances,
    ((COALESCE(c.utterances, 0) - COALESCE(c.agent_utterances, 0)) - COALESCE(c.human_utterances, 0)) AS other_utterances,
    COALESCE(c.variables, 0) AS variables,
    COALESCE(c.variables_collected, 0) AS variables_collected,
    c.has_recording,
    a.name AS agent_name,
    ((c.status = ANY (ARRAY['hangup_on_voicemail'::text, 'left_voicemail'::text])) OR (COALESCE(c.end_call_reason, ''::text) = ANY (ARRAY['voicemail'::text, 'voicemail_cut_off'::text, 'voicemail_message_left'::text]))) AS voicemail,
    NULLIF(c.answered_by_human, ''::text) AS answered_by_human,
    c.labels,
    c.agents_used,
    c.deployment_type,
    c.assistant_version,
    c.recording_duration,
    c.phone_number_from_pseudonym AS caller_pseudonym,
    c.phone_number_to_pseudonym AS callee_pseudonym
   FROM (((public.calls c
     LEFT JOIN public.call_telephony t ON ((t.call_id = c.call_id)))
     LEFT JOIN public.agents a ON ((a.model_id = c.model_id)))
     LEFT JOIN ( SELECT lower(pg_timezone_names.name) AS key,
            min(pg_timezone_names.name) AS name
           FROM pg_timezone_names
          GROUP BY (lower(pg_timezone_names.name))) z ON ((z.key = lower(c.timezone))));

COMMENT ON COLUMN call_facts.has_recording IS 'A recording URL is stored (calls.has_recording; false once retention pruned it).';
