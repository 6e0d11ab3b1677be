-- The schema of a freshly migrated callsync database: pg_dump --schema-only
-- without owners, grants and comments (deploy/docs/columns.md has the
-- comments), normalised. Generated; do not edit. A test compares it with a
-- freshly migrated database; after a new migration, regenerate it:
--
--     go test ./store -run TestSchema -update
--
-- PostgreSQL 15

-- FUNCTION calls_delete_children()

CREATE FUNCTION public.calls_delete_children() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM transcript_lines    WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM collected_variables WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM call_telephony      WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM call_actions        WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM call_judgements     WHERE call_id IN (SELECT call_id FROM gone);
    -- The daily views must drop the deleted calls (see rollup_dirty, migration 00015).
    INSERT INTO rollup_dirty (day, model_id)
    SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date, model_id FROM gone WHERE started_at IS NOT NULL;
    RETURN NULL;
END
$$;

-- FUNCTION calls_truncate_children()

CREATE FUNCTION public.calls_truncate_children() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM transcript_lines;
    DELETE FROM collected_variables;
    DELETE FROM call_telephony;
    DELETE FROM call_actions;
    DELETE FROM call_judgements;
    DELETE FROM rollup_dirty;
    DELETE FROM daily_call_stats_rollup;
    DELETE FROM daily_action_outcomes_rollup;
    DELETE FROM daily_judgement_results_rollup;
    RETURN NULL;
END
$$;

-- FUNCTION callsync_pseudonym(text)

CREATE FUNCTION public.callsync_pseudonym(value text) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    AS $$
SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(value, 'UTF8'))), 'hex')
FROM   pseudonym_key k
$$;

-- FUNCTION recordings_on_calls_delete()

CREATE FUNCTION public.recordings_on_calls_delete() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE recordings SET state = 'delete', updated_at = now()
    WHERE  call_id IN (SELECT call_id FROM gone) AND object_key IS NOT NULL AND state <> 'deleted';
    DELETE FROM recordings WHERE call_id IN (SELECT call_id FROM gone) AND object_key IS NULL AND state <> 'deleted';
    RETURN NULL;
END
$$;

-- FUNCTION recordings_on_calls_insert()

CREATE FUNCTION public.recordings_on_calls_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO recordings (call_id, call_started_at)
    SELECT call_id, coalesce(started_at, first_synced_at) FROM added WHERE recording_pruned_at IS NULL
    ON CONFLICT (call_id) DO NOTHING;
    RETURN NULL;
END
$$;

-- FUNCTION recordings_on_calls_truncate()

CREATE FUNCTION public.recordings_on_calls_truncate() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE recordings SET state = 'delete', updated_at = now() WHERE object_key IS NOT NULL AND state <> 'deleted';
    DELETE FROM recordings WHERE object_key IS NULL AND state <> 'deleted';
    RETURN NULL;
END
$$;

-- FUNCTION sync_queue_notify_due()

CREATE FUNCTION public.sync_queue_notify_due() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM due_rows WHERE state = 'pending' AND next_attempt_at <= now()) THEN
        PERFORM pg_notify('callsync_queue', '');
    END IF;
    RETURN NULL;
END
$$;

-- TABLE agents

CREATE TABLE public.agents (
    model_id text NOT NULL,
    name text,
    type text,
    phone_number text,
    description text,
    language text,
    timezone text,
    llm text,
    voice_id text,
    is_recording boolean,
    is_transcript_disabled boolean,
    redact_pii boolean,
    raw jsonb NOT NULL,
    first_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

-- TABLE api_limits

CREATE TABLE public.api_limits (
    key text NOT NULL,
    tokens double precision NOT NULL,
    updated_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    paused_until timestamp with time zone,
    granted boolean DEFAULT false NOT NULL
);

-- TABLE api_requests

CREATE TABLE public.api_requests (
    minute timestamp with time zone NOT NULL,
    purpose text NOT NULL,
    requests bigint NOT NULL
);

-- TABLE backfill_checkpoints

CREATE TABLE public.backfill_checkpoints (
    model_id text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    window_end timestamp with time zone NOT NULL,
    next_offset bigint DEFAULT 0 NOT NULL,
    total_records bigint,
    landed bigint,
    scans integer DEFAULT 0 NOT NULL,
    done boolean DEFAULT false NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

-- TABLE call_actions

CREATE TABLE public.call_actions (
    call_id text NOT NULL,
    "position" integer NOT NULL,
    action_key text NOT NULL,
    kind text NOT NULL,
    identifier text,
    name text,
    action_type text,
    description text,
    status text,
    error_message text,
    parameters_hard_coded jsonb,
    parameters_from_llm jsonb,
    return_value jsonb,
    is_relevant boolean,
    ran_at timestamp with time zone,
    undecoded text[],
    raw jsonb NOT NULL,
    has_error_message boolean GENERATED ALWAYS AS ((error_message IS NOT NULL)) STORED
);

-- TABLE call_telephony

CREATE TABLE public.call_telephony (
    call_id text NOT NULL,
    hangup text,
    disconnect_reason text,
    duration_ms bigint,
    ringing_duration_ms bigint,
    started_at timestamp with time zone,
    ended_at timestamp with time zone
);

-- TABLE calls

CREATE TABLE public.calls (
    call_id text NOT NULL,
    model_id text,
    status text,
    end_call_reason text,
    custom_end_call_reason text,
    type_of_call text,
    campaign_type text,
    phone_number_from text,
    phone_number_to text,
    name text,
    started_at timestamp with time zone,
    duration_seconds integer,
    timezone text,
    recording_url text,
    error_message text,
    executed_actions jsonb,
    prompt_variables jsonb,
    raw jsonb NOT NULL,
    payload_hash bytea,
    first_synced_at timestamp with time zone DEFAULT now() NOT NULL,
    synced_at timestamp with time zone DEFAULT now() NOT NULL,
    labels text[],
    agents_used text[],
    assistant_version text,
    lead_name text,
    recording_duration double precision,
    deployment_type text,
    agent_phone_number text,
    utterances integer,
    agent_utterances integer,
    human_utterances integer,
    variables integer,
    variables_collected integer,
    answered_by_human text,
    phone_number_from_pseudonym text,
    phone_number_to_pseudonym text,
    has_recording boolean GENERATED ALWAYS AS ((COALESCE(recording_url, ''::text) <> ''::text)) STORED,
    transcript_pruned_at timestamp with time zone,
    recording_pruned_at timestamp with time zone,
    variables_pruned_at timestamp with time zone,
    details_pruned_at timestamp with time zone
)
WITH (fillfactor='85');

-- TABLE recordings

CREATE TABLE public.recordings (
    call_id text NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    call_started_at timestamp with time zone NOT NULL,
    object_key text,
    size_bytes bigint,
    content_type text,
    sha256 bytea,
    duration_seconds double precision,
    archived_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    next_try_at timestamp with time zone DEFAULT now() NOT NULL,
    last_error text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    archived boolean GENERATED ALWAYS AS ((state = 'archived'::text)) STORED,
    CONSTRAINT recordings_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'archived'::text, 'none'::text, 'processing'::text, 'gone'::text, 'error'::text, 'delete'::text, 'deleted'::text])))
);

-- VIEW call_facts

CREATE VIEW public.call_facts WITH (security_invoker='true') AS
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
    (c.has_recording OR (EXISTS ( SELECT 1
           FROM public.recordings r
          WHERE ((r.call_id = c.call_id) AND r.archived)))) AS has_recording,
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

-- TABLE call_judgements

CREATE TABLE public.call_judgements (
    call_id text NOT NULL,
    criterion text NOT NULL,
    result text,
    value text,
    feedback text,
    CONSTRAINT call_judgements_result_check CHECK ((result = ANY (ARRAY['true'::text, 'false'::text, 'partial'::text, 'not_applicable'::text])))
);

-- TABLE collected_variables

CREATE TABLE public.collected_variables (
    call_id text NOT NULL,
    agent_id text NOT NULL,
    name text NOT NULL,
    value jsonb NOT NULL,
    collected boolean,
    shared_value jsonb
);

-- VIEW collected_variable_values

CREATE VIEW public.collected_variable_values WITH (security_invoker='true') AS
 SELECT v.call_id,
    c.model_id,
    c.started_at,
    v.agent_id,
    v.name AS variable,
    (v.shared_value #>> '{}'::text[]) AS value,
    jsonb_typeof(v.shared_value) AS value_type,
    v.collected,
    (v.shared_value IS NOT NULL) AS shared
   FROM (public.collected_variables v
     JOIN public.calls c ON ((c.call_id = v.call_id)));

-- VIEW daily_action_outcomes_live

CREATE VIEW public.daily_action_outcomes_live WITH (security_invoker='true') AS
 SELECT ((c.started_at AT TIME ZONE 'UTC'::text))::date AS day,
    c.model_id,
    a.kind,
    COALESCE(a.identifier, a.name, a.action_key) AS action,
    a.status,
    count(*) AS actions,
    count(DISTINCT a.call_id) AS calls,
    count(*) FILTER (WHERE (a.has_error_message OR (a.status ~* '(fail|error|timeout)'::text))) AS failed,
    count(*) FILTER (WHERE a.has_error_message) AS with_error_message
   FROM (public.calls c
     CROSS JOIN LATERAL ( SELECT a_1.call_id,
            a_1.kind,
            a_1.identifier,
            a_1.name,
            a_1.action_key,
            a_1.status,
            a_1.has_error_message
           FROM public.call_actions a_1
          WHERE (a_1.call_id = c.call_id)
         OFFSET 0) a)
  WHERE (c.started_at IS NOT NULL)
  GROUP BY (((c.started_at AT TIME ZONE 'UTC'::text))::date), c.model_id, a.kind, COALESCE(a.identifier, a.name, a.action_key), a.status;

-- TABLE daily_action_outcomes_rollup

CREATE TABLE public.daily_action_outcomes_rollup (
    day date NOT NULL,
    model_id text,
    kind text NOT NULL,
    action text,
    status text,
    actions bigint NOT NULL,
    calls bigint NOT NULL,
    failed bigint NOT NULL,
    with_error_message bigint NOT NULL
);

-- TABLE rollup_dirty

CREATE TABLE public.rollup_dirty (
    day date NOT NULL,
    model_id text
);

-- VIEW daily_action_outcomes

CREATE VIEW public.daily_action_outcomes WITH (security_invoker='true') AS
 SELECT s.day,
    s.model_id,
    s.kind,
    s.action,
    s.status,
    s.actions,
    s.calls,
    s.failed,
    s.with_error_message,
    g.name AS agent_name
   FROM (( SELECT r.day,
            r.model_id,
            r.kind,
            r.action,
            r.status,
            r.actions,
            r.calls,
            r.failed,
            r.with_error_message
           FROM public.daily_action_outcomes_rollup r
          WHERE (NOT (EXISTS ( SELECT
                   FROM public.rollup_dirty d
                  WHERE ((d.day = r.day) AND (NOT (d.model_id IS DISTINCT FROM r.model_id))))))
        UNION ALL
         SELECT v.day,
            v.model_id,
            v.kind,
            v.action,
            v.status,
            v.actions,
            v.calls,
            v.failed,
            v.with_error_message
           FROM (( SELECT DISTINCT rollup_dirty.day,
                    rollup_dirty.model_id
                   FROM public.rollup_dirty
                  WHERE (rollup_dirty.model_id IS NOT NULL)) k
             CROSS JOIN LATERAL ( SELECT l.day,
                    l.model_id,
                    l.kind,
                    l.action,
                    l.status,
                    l.actions,
                    l.calls,
                    l.failed,
                    l.with_error_message
                   FROM public.daily_action_outcomes_live l
                  WHERE ((l.day = k.day) AND (l.model_id = k.model_id))
                 OFFSET 0) v)
        UNION ALL
         SELECT v.day,
            v.model_id,
            v.kind,
            v.action,
            v.status,
            v.actions,
            v.calls,
            v.failed,
            v.with_error_message
           FROM (( SELECT DISTINCT rollup_dirty.day
                   FROM public.rollup_dirty
                  WHERE (rollup_dirty.model_id IS NULL)) k
             CROSS JOIN LATERAL ( SELECT l.day,
                    l.model_id,
                    l.kind,
                    l.action,
                    l.status,
                    l.actions,
                    l.calls,
                    l.failed,
                    l.with_error_message
                   FROM public.daily_action_outcomes_live l
                  WHERE ((l.day = k.day) AND (l.model_id IS NULL))
                 OFFSET 0) v)) s
     LEFT JOIN public.agents g ON ((g.model_id = s.model_id)));

-- VIEW daily_call_stats_live

CREATE VIEW public.daily_call_stats_live WITH (security_invoker='true') AS
 SELECT f.day,
    f.model_id,
    count(*) AS calls,
    count(*) FILTER (WHERE f.answered) AS answered,
    count(*) FILTER (WHERE (f.status = 'completed'::text)) AS completed,
    count(*) FILTER (WHERE (f.status = 'failed'::text)) AS failed,
    count(*) FILTER (WHERE (f.status = 'no-answer'::text)) AS no_answer,
    count(*) FILTER (WHERE (f.status = ANY (ARRAY['hangup_on_voicemail'::text, 'left_voicemail'::text]))) AS voicemail,
    count(*) FILTER (WHERE (f.status = 'busy'::text)) AS busy,
    round(((count(*) FILTER (WHERE f.answered))::numeric / (count(*))::numeric), 4) AS answer_rate,
    round(avg(f.duration_seconds), 1) AS avg_duration_seconds,
    round((percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY ((f.duration_seconds)::double precision)))::numeric, 1) AS median_duration_seconds,
    round((percentile_cont((0.9)::double precision) WITHIN GROUP (ORDER BY ((f.duration_seconds)::double precision)))::numeric, 1) AS p90_duration_seconds,
    round((COALESCE(sum(f.talk_seconds), (0)::numeric) / (60)::numeric), 1) AS total_talk_minutes,
    count(*) FILTER (WHERE f.voicemail) AS reached_voicemail,
    sum(f.utterances) AS utterances,
    sum(f.agent_utterances) AS agent_utterances,
    sum(f.human_utterances) AS human_utterances,
    sum(f.variables) AS variables,
    sum(f.variables_collected) AS variables_collected
   FROM ( SELECT ((c.started_at AT TIME ZONE 'UTC'::text))::date AS day,
            c.model_id,
            c.status,
            c.duration_seconds,
                CASE
                    WHEN (t.duration_ms IS NOT NULL) THEN round(((GREATEST((t.duration_ms - COALESCE(t.ringing_duration_ms, (0)::bigint)), (0)::bigint))::numeric / 1000.0), 1)
                    ELSE round((c.duration_seconds)::numeric, 1)
                END AS talk_seconds,
                CASE c.answered_by_human
                    WHEN 'true'::text THEN true
                    WHEN 'false'::text THEN false
                    ELSE ((COALESCE(c.human_utterances, 0) > 0) AND (c.status IS DISTINCT FROM 'hangup_on_voicemail'::text) AND (c.status IS DISTINCT FROM 'left_voicemail'::text) AND (COALESCE(c.end_call_reason, ''::text) <> ALL (ARRAY['voicemail'::text, 'voicemail_cut_off'::text, 'voicemail_message_left'::text])))
                END AS answered,
            ((c.status = ANY (ARRAY['hangup_on_voicemail'::text, 'left_voicemail'::text])) OR (COALESCE(c.end_call_reason, ''::text) = ANY (ARRAY['voicemail'::text, 'voicemail_cut_off'::text, 'voicemail_message_left'::text]))) AS voicemail,
            COALESCE(c.utterances, 0) AS utterances,
            COALESCE(c.agent_utterances, 0) AS agent_utterances,
            COALESCE(c.human_utterances, 0) AS human_utterances,
            COALESCE(c.variables, 0) AS variables,
            COALESCE(c.variables_collected, 0) AS variables_collected
           FROM (public.calls c
             LEFT JOIN LATERAL ( SELECT t_1.duration_ms,
                    t_1.ringing_duration_ms
                   FROM public.call_telephony t_1
                  WHERE (t_1.call_id = c.call_id)
                 OFFSET 0) t ON (true))
          WHERE (c.started_at IS NOT NULL)) f
  GROUP BY f.day, f.model_id;

-- TABLE daily_call_stats_rollup

CREATE TABLE public.daily_call_stats_rollup (
    day date NOT NULL,
    model_id text,
    calls bigint NOT NULL,
    answered bigint NOT NULL,
    completed bigint NOT NULL,
    failed bigint NOT NULL,
    no_answer bigint NOT NULL,
    voicemail bigint NOT NULL,
    busy bigint NOT NULL,
    answer_rate numeric,
    avg_duration_seconds numeric,
    median_duration_seconds numeric,
    p90_duration_seconds numeric,
    total_talk_minutes numeric,
    reached_voicemail bigint NOT NULL,
    utterances bigint,
    agent_utterances bigint,
    human_utterances bigint,
    variables bigint,
    variables_collected bigint
);

-- VIEW daily_call_stats

CREATE VIEW public.daily_call_stats WITH (security_invoker='true') AS
 SELECT s.day,
    s.model_id,
    s.calls,
    s.answered,
    s.completed,
    s.failed,
    s.no_answer,
    s.voicemail,
    s.busy,
    s.answer_rate,
    s.avg_duration_seconds,
    s.median_duration_seconds,
    s.p90_duration_seconds,
    s.total_talk_minutes,
    a.name AS agent_name,
    s.reached_voicemail,
    s.utterances,
    s.agent_utterances,
    s.human_utterances,
    s.variables,
    s.variables_collected
   FROM (( SELECT r.day,
            r.model_id,
            r.calls,
            r.answered,
            r.completed,
            r.failed,
            r.no_answer,
            r.voicemail,
            r.busy,
            r.answer_rate,
            r.avg_duration_seconds,
            r.median_duration_seconds,
            r.p90_duration_seconds,
            r.total_talk_minutes,
            r.reached_voicemail,
            r.utterances,
            r.agent_utterances,
            r.human_utterances,
            r.variables,
            r.variables_collected
           FROM public.daily_call_stats_rollup r
          WHERE (NOT (EXISTS ( SELECT
                   FROM public.rollup_dirty d
                  WHERE ((d.day = r.day) AND (NOT (d.model_id IS DISTINCT FROM r.model_id))))))
        UNION ALL
         SELECT v.day,
            v.model_id,
            v.calls,
            v.answered,
            v.completed,
            v.failed,
            v.no_answer,
            v.voicemail,
            v.busy,
            v.answer_rate,
            v.avg_duration_seconds,
            v.median_duration_seconds,
            v.p90_duration_seconds,
            v.total_talk_minutes,
            v.reached_voicemail,
            v.utterances,
            v.agent_utterances,
            v.human_utterances,
            v.variables,
            v.variables_collected
           FROM (( SELECT DISTINCT rollup_dirty.day,
                    rollup_dirty.model_id
                   FROM public.rollup_dirty
                  WHERE (rollup_dirty.model_id IS NOT NULL)) k
             CROSS JOIN LATERAL ( SELECT l.day,
                    l.model_id,
                    l.calls,
                    l.answered,
                    l.completed,
                    l.failed,
                    l.no_answer,
                    l.voicemail,
                    l.busy,
                    l.answer_rate,
                    l.avg_duration_seconds,
                    l.median_duration_seconds,
                    l.p90_duration_seconds,
                    l.total_talk_minutes,
                    l.reached_voicemail,
                    l.utterances,
                    l.agent_utterances,
                    l.human_utterances,
                    l.variables,
                    l.variables_collected
                   FROM public.daily_call_stats_live l
                  WHERE ((l.day = k.day) AND (l.model_id = k.model_id))
                 OFFSET 0) v)
        UNION ALL
         SELECT v.day,
            v.model_id,
            v.calls,
            v.answered,
            v.completed,
            v.failed,
            v.no_answer,
            v.voicemail,
            v.busy,
            v.answer_rate,
            v.avg_duration_seconds,
            v.median_duration_seconds,
            v.p90_duration_seconds,
            v.total_talk_minutes,
            v.reached_voicemail,
            v.utterances,
            v.agent_utterances,
            v.human_utterances,
            v.variables,
            v.variables_collected
           FROM (( SELECT DISTINCT rollup_dirty.day
                   FROM public.rollup_dirty
                  WHERE (rollup_dirty.model_id IS NULL)) k
             CROSS JOIN LATERAL ( SELECT l.day,
                    l.model_id,
                    l.calls,
                    l.answered,
                    l.completed,
                    l.failed,
                    l.no_answer,
                    l.voicemail,
                    l.busy,
                    l.answer_rate,
                    l.avg_duration_seconds,
                    l.median_duration_seconds,
                    l.p90_duration_seconds,
                    l.total_talk_minutes,
                    l.reached_voicemail,
                    l.utterances,
                    l.agent_utterances,
                    l.human_utterances,
                    l.variables,
                    l.variables_collected
                   FROM public.daily_call_stats_live l
                  WHERE ((l.day = k.day) AND (l.model_id IS NULL))
                 OFFSET 0) v)) s
     LEFT JOIN public.agents a ON ((a.model_id = s.model_id)));

-- VIEW daily_judgement_results_live

CREATE VIEW public.daily_judgement_results_live WITH (security_invoker='true') AS
 SELECT ((c.started_at AT TIME ZONE 'UTC'::text))::date AS day,
    c.model_id,
    j.criterion,
    count(*) AS calls,
    count(*) FILTER (WHERE (j.result = 'true'::text)) AS true_count,
    count(*) FILTER (WHERE (j.result = 'false'::text)) AS false_count,
    count(*) FILTER (WHERE (j.result = 'partial'::text)) AS partial_count,
    count(*) FILTER (WHERE (j.result = 'not_applicable'::text)) AS not_applicable_count,
    count(*) FILTER (WHERE (j.result IS NULL)) AS other_count,
    round(((count(*) FILTER (WHERE (j.result = 'true'::text)))::numeric / (NULLIF(count(*) FILTER (WHERE (j.result = ANY (ARRAY['true'::text, 'false'::text, 'partial'::text]))), 0))::numeric), 4) AS pass_rate
   FROM (public.calls c
     CROSS JOIN LATERAL ( SELECT j_1.criterion,
            j_1.result
           FROM public.call_judgements j_1
          WHERE (j_1.call_id = c.call_id)
         OFFSET 0) j)
  WHERE (c.started_at IS NOT NULL)
  GROUP BY (((c.started_at AT TIME ZONE 'UTC'::text))::date), c.model_id, j.criterion;

-- TABLE daily_judgement_results_rollup

CREATE TABLE public.daily_judgement_results_rollup (
    day date NOT NULL,
    model_id text,
    criterion text NOT NULL,
    calls bigint NOT NULL,
    true_count bigint NOT NULL,
    false_count bigint NOT NULL,
    partial_count bigint NOT NULL,
    not_applicable_count bigint NOT NULL,
    other_count bigint NOT NULL,
    pass_rate numeric
);

-- VIEW daily_judgement_results

CREATE VIEW public.daily_judgement_results WITH (security_invoker='true') AS
 SELECT s.day,
    s.model_id,
    s.criterion,
    s.calls,
    s.true_count,
    s.false_count,
    s.partial_count,
    s.not_applicable_count,
    s.other_count,
    s.pass_rate,
    g.name AS agent_name
   FROM (( SELECT r.day,
            r.model_id,
            r.criterion,
            r.calls,
            r.true_count,
            r.false_count,
            r.partial_count,
            r.not_applicable_count,
            r.other_count,
            r.pass_rate
           FROM public.daily_judgement_results_rollup r
          WHERE (NOT (EXISTS ( SELECT
                   FROM public.rollup_dirty d
                  WHERE ((d.day = r.day) AND (NOT (d.model_id IS DISTINCT FROM r.model_id))))))
        UNION ALL
         SELECT v.day,
            v.model_id,
            v.criterion,
            v.calls,
            v.true_count,
            v.false_count,
            v.partial_count,
            v.not_applicable_count,
            v.other_count,
            v.pass_rate
           FROM (( SELECT DISTINCT rollup_dirty.day,
                    rollup_dirty.model_id
                   FROM public.rollup_dirty
                  WHERE (rollup_dirty.model_id IS NOT NULL)) k
             CROSS JOIN LATERAL ( SELECT l.day,
                    l.model_id,
                    l.criterion,
                    l.calls,
                    l.true_count,
                    l.false_count,
                    l.partial_count,
                    l.not_applicable_count,
                    l.other_count,
                    l.pass_rate
                   FROM public.daily_judgement_results_live l
                  WHERE ((l.day = k.day) AND (l.model_id = k.model_id))
                 OFFSET 0) v)
        UNION ALL
         SELECT v.day,
            v.model_id,
            v.criterion,
            v.calls,
            v.true_count,
            v.false_count,
            v.partial_count,
            v.not_applicable_count,
            v.other_count,
            v.pass_rate
           FROM (( SELECT DISTINCT rollup_dirty.day
                   FROM public.rollup_dirty
                  WHERE (rollup_dirty.model_id IS NULL)) k
             CROSS JOIN LATERAL ( SELECT l.day,
                    l.model_id,
                    l.criterion,
                    l.calls,
                    l.true_count,
                    l.false_count,
                    l.partial_count,
                    l.not_applicable_count,
                    l.other_count,
                    l.pass_rate
                   FROM public.daily_judgement_results_live l
                  WHERE ((l.day = k.day) AND (l.model_id IS NULL))
                 OFFSET 0) v)) s
     LEFT JOIN public.agents g ON ((g.model_id = s.model_id)));

-- TABLE erased_calls

CREATE TABLE public.erased_calls (
    call_id text NOT NULL,
    model_id text,
    started_at timestamp with time zone,
    erased_at timestamp with time zone DEFAULT now() NOT NULL,
    erasure_id bigint
);

-- TABLE erased_numbers

CREATE TABLE public.erased_numbers (
    number_pseudonym text NOT NULL,
    erased_at timestamp with time zone DEFAULT now() NOT NULL,
    erasure_id bigint
);

-- TABLE erasures

CREATE TABLE public.erasures (
    id bigint NOT NULL,
    erased_at timestamp with time zone DEFAULT now() NOT NULL,
    requested integer NOT NULL,
    erased integer NOT NULL,
    reason text
);

-- SEQUENCE erasures_id_seq

ALTER TABLE public.erasures ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.erasures_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- TABLE poll_watermarks

CREATE TABLE public.poll_watermarks (
    model_id text NOT NULL,
    watermark timestamp with time zone NOT NULL,
    polled_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

-- TABLE pseudonym_key

CREATE TABLE public.pseudonym_key (
    id boolean DEFAULT true NOT NULL,
    inner_pad bytea NOT NULL,
    outer_pad bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT pseudonym_key_id_check CHECK (id),
    CONSTRAINT pseudonym_key_inner_pad_check CHECK ((length(inner_pad) = 64)),
    CONSTRAINT pseudonym_key_outer_pad_check CHECK ((length(outer_pad) = 64))
);

-- TABLE role_grants

CREATE TABLE public.role_grants (
    grantee text NOT NULL,
    relation text NOT NULL,
    column_name text NOT NULL,
    granted_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT role_grants_grantee_check CHECK ((grantee = ANY (ARRAY['reader'::text, 'pii_reader'::text])))
);

-- TABLE shared_variables

CREATE TABLE public.shared_variables (
    name text NOT NULL,
    added_at timestamp with time zone DEFAULT now() NOT NULL
);

-- TABLE sync_queue

CREATE TABLE public.sync_queue (
    call_id text NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    polls integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_until timestamp with time zone,
    lease_token bigint,
    requeue boolean DEFAULT false NOT NULL,
    last_error text,
    last_bad_body bytea,
    enqueued_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    suspect boolean DEFAULT false NOT NULL,
    webhook_judgements jsonb,
    webhook_judged_at timestamp with time zone,
    model_id text,
    started_at timestamp with time zone,
    fetch_by text DEFAULT 'get'::text NOT NULL,
    hook_polls integer DEFAULT '-1'::integer NOT NULL,
    extra boolean DEFAULT false NOT NULL,
    CONSTRAINT sync_queue_fetch_by_check CHECK ((fetch_by = ANY (ARRAY['get'::text, 'list'::text]))),
    CONSTRAINT sync_queue_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'running'::text, 'done'::text, 'failed'::text])))
);

-- TABLE sync_runs

CREATE TABLE public.sync_runs (
    id bigint NOT NULL,
    worker text NOT NULL,
    command text NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    claimed integer NOT NULL,
    synced integer NOT NULL,
    unchanged integer NOT NULL,
    requeued integer NOT NULL,
    failed integer NOT NULL,
    lost integer NOT NULL,
    rescued integer NOT NULL,
    api_requests integer NOT NULL,
    api_rate_limited integer NOT NULL,
    error text
);

-- VIEW sync_health

CREATE VIEW public.sync_health WITH (security_invoker='true') AS
 SELECT q.pending,
    q.running,
    q.done,
    q.failed,
    q.due,
    q.oldest_due_at,
    (COALESCE(round(EXTRACT(epoch FROM (now() - q.oldest_due_at))), (0)::numeric))::bigint AS oldest_due_age_seconds,
    ( SELECT count(*) AS count
           FROM public.sync_queue
          WHERE ((sync_queue.state = 'failed'::text) AND (sync_queue.updated_at > (now() - '24:00:00'::interval)))) AS failed_last_24h,
    ( SELECT max(sync_runs.finished_at) AS max
           FROM public.sync_runs) AS last_pass_at,
    ( SELECT max(sync_runs.finished_at) AS max
           FROM public.sync_runs
          WHERE (sync_runs.error IS NULL)) AS last_successful_pass_at,
    ( SELECT count(*) AS count
           FROM public.sync_runs
          WHERE ((sync_runs.error IS NOT NULL) AND (sync_runs.finished_at > (now() - '24:00:00'::interval)))) AS failed_passes_last_24h,
    ( SELECT max(api_limits.paused_until) AS max
           FROM public.api_limits
          WHERE (api_limits.paused_until > now())) AS api_paused_until,
    now() AS checked_at
   FROM ( SELECT count(*) FILTER (WHERE (sync_queue.state = 'pending'::text)) AS pending,
            count(*) FILTER (WHERE (sync_queue.state = 'running'::text)) AS running,
            count(*) FILTER (WHERE (sync_queue.state = 'done'::text)) AS done,
            count(*) FILTER (WHERE (sync_queue.state = 'failed'::text)) AS failed,
            count(*) FILTER (WHERE ((sync_queue.state = 'pending'::text) AND (sync_queue.next_attempt_at <= now()))) AS due,
            min(sync_queue.next_attempt_at) FILTER (WHERE ((sync_queue.state = 'pending'::text) AND (sync_queue.next_attempt_at <= now()))) AS oldest_due_at
           FROM public.sync_queue) q;

-- SEQUENCE sync_runs_id_seq

ALTER TABLE public.sync_runs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.sync_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- TABLE transcript_lines

CREATE TABLE public.transcript_lines (
    call_id text NOT NULL,
    line_no integer NOT NULL,
    speaker text NOT NULL,
    text text NOT NULL
);

-- VIEW transcript_search

CREATE VIEW public.transcript_search WITH (security_invoker='true') AS
 SELECT l.call_id,
    l.line_no,
    l.speaker,
    l.text,
    to_tsvector('simple'::regconfig, l.text) AS document
   FROM public.transcript_lines l;

-- CONSTRAINT agents agents_pkey

ALTER TABLE ONLY public.agents
    ADD CONSTRAINT agents_pkey PRIMARY KEY (model_id);

-- CONSTRAINT api_limits api_limits_pkey

ALTER TABLE ONLY public.api_limits
    ADD CONSTRAINT api_limits_pkey PRIMARY KEY (key);

-- CONSTRAINT api_requests api_requests_pkey

ALTER TABLE ONLY public.api_requests
    ADD CONSTRAINT api_requests_pkey PRIMARY KEY (minute, purpose);

-- CONSTRAINT backfill_checkpoints backfill_checkpoints_pkey

ALTER TABLE ONLY public.backfill_checkpoints
    ADD CONSTRAINT backfill_checkpoints_pkey PRIMARY KEY (model_id, window_start, window_end);

-- CONSTRAINT call_actions call_actions_pkey

ALTER TABLE ONLY public.call_actions
    ADD CONSTRAINT call_actions_pkey PRIMARY KEY (call_id, "position");

-- CONSTRAINT call_judgements call_judgements_pkey

ALTER TABLE ONLY public.call_judgements
    ADD CONSTRAINT call_judgements_pkey PRIMARY KEY (call_id, criterion);

-- CONSTRAINT call_telephony call_telephony_pkey

ALTER TABLE ONLY public.call_telephony
    ADD CONSTRAINT call_telephony_pkey PRIMARY KEY (call_id);

-- CONSTRAINT calls calls_pkey

ALTER TABLE ONLY public.calls
    ADD CONSTRAINT calls_pkey PRIMARY KEY (call_id);

-- CONSTRAINT collected_variables collected_variables_pkey

ALTER TABLE ONLY public.collected_variables
    ADD CONSTRAINT collected_variables_pkey PRIMARY KEY (call_id, agent_id, name);

-- CONSTRAINT erased_calls erased_calls_pkey

ALTER TABLE ONLY public.erased_calls
    ADD CONSTRAINT erased_calls_pkey PRIMARY KEY (call_id);

-- CONSTRAINT erased_numbers erased_numbers_pkey

ALTER TABLE ONLY public.erased_numbers
    ADD CONSTRAINT erased_numbers_pkey PRIMARY KEY (number_pseudonym);

-- CONSTRAINT erasures erasures_pkey

ALTER TABLE ONLY public.erasures
    ADD CONSTRAINT erasures_pkey PRIMARY KEY (id);

-- CONSTRAINT poll_watermarks poll_watermarks_pkey

ALTER TABLE ONLY public.poll_watermarks
    ADD CONSTRAINT poll_watermarks_pkey PRIMARY KEY (model_id);

-- CONSTRAINT pseudonym_key pseudonym_key_pkey

ALTER TABLE ONLY public.pseudonym_key
    ADD CONSTRAINT pseudonym_key_pkey PRIMARY KEY (id);

-- CONSTRAINT recordings recordings_pkey

ALTER TABLE ONLY public.recordings
    ADD CONSTRAINT recordings_pkey PRIMARY KEY (call_id);

-- CONSTRAINT role_grants role_grants_pkey

ALTER TABLE ONLY public.role_grants
    ADD CONSTRAINT role_grants_pkey PRIMARY KEY (grantee, relation, column_name);

-- CONSTRAINT shared_variables shared_variables_pkey

ALTER TABLE ONLY public.shared_variables
    ADD CONSTRAINT shared_variables_pkey PRIMARY KEY (name);

-- CONSTRAINT sync_queue sync_queue_pkey

ALTER TABLE ONLY public.sync_queue
    ADD CONSTRAINT sync_queue_pkey PRIMARY KEY (call_id);

-- CONSTRAINT sync_runs sync_runs_pkey

ALTER TABLE ONLY public.sync_runs
    ADD CONSTRAINT sync_runs_pkey PRIMARY KEY (id);

-- CONSTRAINT transcript_lines transcript_lines_pkey

ALTER TABLE ONLY public.transcript_lines
    ADD CONSTRAINT transcript_lines_pkey PRIMARY KEY (call_id, line_no);

-- INDEX agents_name_idx

CREATE INDEX agents_name_idx ON public.agents USING btree (name);

-- INDEX call_actions_call_id_idx

CREATE INDEX call_actions_call_id_idx ON public.call_actions USING btree (call_id) INCLUDE (kind, status);

-- INDEX call_actions_status_idx

CREATE INDEX call_actions_status_idx ON public.call_actions USING btree (status) WHERE (status IS NOT NULL);

-- INDEX call_judgements_criterion_idx

CREATE INDEX call_judgements_criterion_idx ON public.call_judgements USING btree (criterion, result);

-- INDEX calls_model_id_started_at_idx

CREATE INDEX calls_model_id_started_at_idx ON public.calls USING btree (model_id, started_at);

-- INDEX calls_started_at_idx

CREATE INDEX calls_started_at_idx ON public.calls USING btree (started_at);

-- INDEX calls_started_date_utc_model_idx

CREATE INDEX calls_started_date_utc_model_idx ON public.calls USING btree ((((started_at AT TIME ZONE 'UTC'::text))::date), model_id);

-- INDEX calls_status_idx

CREATE INDEX calls_status_idx ON public.calls USING btree (status);

-- INDEX collected_variables_name_idx

CREATE INDEX collected_variables_name_idx ON public.collected_variables USING btree (name);

-- INDEX daily_action_outcomes_rollup_key_idx

CREATE INDEX daily_action_outcomes_rollup_key_idx ON public.daily_action_outcomes_rollup USING btree (day, model_id);

-- INDEX daily_call_stats_rollup_key_idx

CREATE INDEX daily_call_stats_rollup_key_idx ON public.daily_call_stats_rollup USING btree (day, model_id);

-- INDEX daily_judgement_results_rollup_key_idx

CREATE INDEX daily_judgement_results_rollup_key_idx ON public.daily_judgement_results_rollup USING btree (day, model_id);

-- INDEX erased_calls_model_started_idx

CREATE INDEX erased_calls_model_started_idx ON public.erased_calls USING btree (model_id, started_at);

-- INDEX recordings_delete_idx

CREATE INDEX recordings_delete_idx ON public.recordings USING btree (call_id) WHERE (state = 'delete'::text);

-- INDEX recordings_due_idx

CREATE INDEX recordings_due_idx ON public.recordings USING btree (call_started_at) WHERE ((state = ANY (ARRAY['pending'::text, 'processing'::text, 'none'::text, 'error'::text])) AND (next_try_at < 'infinity'::timestamp with time zone));

-- INDEX sync_queue_due_idx

CREATE INDEX sync_queue_due_idx ON public.sync_queue USING btree (next_attempt_at) WHERE (state = 'pending'::text);

-- INDEX sync_queue_extra_idx

CREATE INDEX sync_queue_extra_idx ON public.sync_queue USING btree (updated_at) WHERE ((state = 'done'::text) AND extra);

-- INDEX sync_queue_failed_idx

CREATE INDEX sync_queue_failed_idx ON public.sync_queue USING btree (updated_at) WHERE (state = 'failed'::text);

-- INDEX sync_queue_list_due_idx

CREATE INDEX sync_queue_list_due_idx ON public.sync_queue USING btree (model_id, next_attempt_at) WHERE ((state = 'pending'::text) AND (fetch_by = 'list'::text));

-- INDEX sync_queue_running_idx

CREATE INDEX sync_queue_running_idx ON public.sync_queue USING btree (locked_until) WHERE (state = 'running'::text);

-- INDEX sync_queue_suspect_idx

CREATE INDEX sync_queue_suspect_idx ON public.sync_queue USING btree (next_attempt_at) WHERE ((state = 'pending'::text) AND suspect);

-- INDEX sync_queue_webhook_judgements_idx

CREATE INDEX sync_queue_webhook_judgements_idx ON public.sync_queue USING btree (call_id) WHERE (webhook_judgements IS NOT NULL);

-- INDEX sync_runs_finished_at_idx

CREATE INDEX sync_runs_finished_at_idx ON public.sync_runs USING btree (finished_at);

-- INDEX sync_runs_succeeded_idx

CREATE INDEX sync_runs_succeeded_idx ON public.sync_runs USING btree (finished_at) WHERE (error IS NULL);

-- TRIGGER calls calls_delete_children

CREATE TRIGGER calls_delete_children AFTER DELETE ON public.calls REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION public.calls_delete_children();

-- TRIGGER calls calls_truncate_children

CREATE TRIGGER calls_truncate_children AFTER TRUNCATE ON public.calls FOR EACH STATEMENT EXECUTE FUNCTION public.calls_truncate_children();

-- TRIGGER calls recordings_on_calls_delete

CREATE TRIGGER recordings_on_calls_delete AFTER DELETE ON public.calls REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION public.recordings_on_calls_delete();

-- TRIGGER calls recordings_on_calls_insert

CREATE TRIGGER recordings_on_calls_insert AFTER INSERT ON public.calls REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION public.recordings_on_calls_insert();

-- TRIGGER calls recordings_on_calls_truncate

CREATE TRIGGER recordings_on_calls_truncate AFTER TRUNCATE ON public.calls FOR EACH STATEMENT EXECUTE FUNCTION public.recordings_on_calls_truncate();

-- TRIGGER sync_queue sync_queue_notify_due_insert

CREATE TRIGGER sync_queue_notify_due_insert AFTER INSERT ON public.sync_queue REFERENCING NEW TABLE AS due_rows FOR EACH STATEMENT EXECUTE FUNCTION public.sync_queue_notify_due();

-- TRIGGER sync_queue sync_queue_notify_due_update

CREATE TRIGGER sync_queue_notify_due_update AFTER UPDATE ON public.sync_queue REFERENCING NEW TABLE AS due_rows FOR EACH STATEMENT EXECUTE FUNCTION public.sync_queue_notify_due();

-- FK CONSTRAINT erased_calls erased_calls_erasure_id_fkey

ALTER TABLE ONLY public.erased_calls
    ADD CONSTRAINT erased_calls_erasure_id_fkey FOREIGN KEY (erasure_id) REFERENCES public.erasures(id) ON DELETE SET NULL;

-- FK CONSTRAINT erased_numbers erased_numbers_erasure_id_fkey

ALTER TABLE ONLY public.erased_numbers
    ADD CONSTRAINT erased_numbers_erasure_id_fkey FOREIGN KEY (erasure_id) REFERENCES public.erasures(id) ON DELETE SET NULL;
