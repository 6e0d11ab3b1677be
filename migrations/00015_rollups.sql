-- +goose Up

-- Daily rollups behind daily_call_stats, daily_action_outcomes and
-- daily_judgement_results, so that dashboards over millions of calls read a
-- few thousand rows instead of aggregating every call at query time.
--
-- Every rollup row is keyed by (UTC day, agent). The transactions that
-- change what a key aggregates (a write of calls, an erasure, a prune)
-- append the key to rollup_dirty, in the same transaction as the change;
-- a fold (callsync after each pass, and callsync rollups) later deletes
-- the dirty rows it sees and recomputes their keys from the base tables,
-- through the *_live views. The public views are exact at every moment:
-- they read the rollup rows of the keys that are not dirty and aggregate
-- the dirty keys' calls live, from the same *_live views.

-- Indexing and rolling up every call outlasts the workers' statement
-- timeout on millions of calls; this migration runs in one transaction.
SET LOCAL statement_timeout = 0;

-- The day and agent of a call: how the live part of the views finds the
-- calls of one dirty key. It replaces the index on the day alone, whose
-- queries it serves as well.
CREATE INDEX calls_started_date_utc_model_idx ON calls (((started_at AT TIME ZONE 'UTC')::date), model_id);
DROP INDEX calls_started_date_utc_idx;

-- Append-only: writers never update or wait on each other's rows (no
-- unique key, no ON CONFLICT); a key may appear many times.
CREATE TABLE rollup_dirty (
    day      date NOT NULL,
    model_id text
);

COMMENT ON TABLE rollup_dirty IS 'Rollup keys (UTC day, agent) whose calls changed since the rollups were last folded, appended in the transaction of the change (a key may appear many times). While a key is here, the daily views aggregate its calls live; a fold (after each sync pass, or callsync rollups) recomputes its rollup rows and deletes it.';
COMMENT ON COLUMN rollup_dirty.day IS 'UTC date the changed calls started (or started before the change).';
COMMENT ON COLUMN rollup_dirty.model_id IS 'Their agent (before or after the change); NULL for calls without one.';

-- The aggregates, computed from the base tables at query time. The rollups
-- hold their rows; the public views read them for the dirty keys, whose
-- calls they find through calls_started_date_utc_model_idx. Each call's
-- child rows are looked up by call_id (a lateral subquery the planner keeps
-- as it is, OFFSET 0): for the few thousand calls of a key that is far
-- faster than the hash join over the whole child table the planner picks
-- otherwise. daily_call_stats_live computes call_facts' answered,
-- talk_seconds and voicemail as call_facts does (a test compares them), for
-- the same reason: call_facts joins call_telephony whole.

CREATE VIEW daily_call_stats_live WITH (security_invoker = true) AS
SELECT f.day,
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
       round(coalesce(sum(f.talk_seconds), 0) / 60, 1)                           AS total_talk_minutes,
       count(*) FILTER (WHERE f.voicemail)                                       AS reached_voicemail,
       sum(f.utterances)                                                         AS utterances,
       sum(f.agent_utterances)                                                   AS agent_utterances,
       sum(f.human_utterances)                                                   AS human_utterances,
       sum(f.variables)                                                          AS variables,
       sum(f.variables_collected)                                                AS variables_collected
FROM  (SELECT (c.started_at AT TIME ZONE 'UTC')::date                              AS day,
              c.model_id,
              c.status,
              c.duration_seconds,
              CASE WHEN t.duration_ms IS NOT NULL
                   THEN round(greatest(t.duration_ms - coalesce(t.ringing_duration_ms, 0), 0) / 1000.0, 1)
                   ELSE round(c.duration_seconds, 1)
              END                                                                AS talk_seconds,
              CASE c.answered_by_human
                   WHEN 'true'  THEN true
                   WHEN 'false' THEN false
                   ELSE coalesce(c.human_utterances, 0) > 0
                        AND c.status IS DISTINCT FROM 'hangup_on_voicemail'
                        AND c.status IS DISTINCT FROM 'left_voicemail'
                        AND coalesce(c.end_call_reason, '') NOT IN ('voicemail', 'voicemail_cut_off', 'voicemail_message_left')
              END                                                                AS answered,
              c.status IN ('hangup_on_voicemail', 'left_voicemail')
                  OR coalesce(c.end_call_reason, '') IN ('voicemail', 'voicemail_cut_off', 'voicemail_message_left') AS voicemail,
              coalesce(c.utterances, 0)                                          AS utterances,
              coalesce(c.agent_utterances, 0)                                    AS agent_utterances,
              coalesce(c.human_utterances, 0)                                    AS human_utterances,
              coalesce(c.variables, 0)                                           AS variables,
              coalesce(c.variables_collected, 0)                                 AS variables_collected
       FROM   calls c
       LEFT   JOIN LATERAL (SELECT t.duration_ms, t.ringing_duration_ms FROM call_telephony t
                            WHERE t.call_id = c.call_id OFFSET 0) t ON true
       WHERE  c.started_at IS NOT NULL) f
GROUP  BY f.day, f.model_id;

COMMENT ON VIEW daily_call_stats_live IS 'daily_call_stats without agent_name, aggregated from calls and call_telephony at query time (answered, talk time and voicemail as call_facts has them): what the rollup daily_call_stats_rollup holds. Slow over many calls; use daily_call_stats.';

CREATE VIEW daily_action_outcomes_live WITH (security_invoker = true) AS
SELECT (c.started_at AT TIME ZONE 'UTC')::date             AS day,
       c.model_id,
       a.kind,
       coalesce(a.identifier, a.name, a.action_key)        AS action,
       a.status,
       count(*)                                            AS actions,
       count(DISTINCT a.call_id)                           AS calls,
       count(*) FILTER (WHERE a.has_error_message
                           OR a.status ~* '(fail|error|timeout)') AS failed,
       count(*) FILTER (WHERE a.has_error_message)         AS with_error_message
FROM   calls c
CROSS  JOIN LATERAL (SELECT a.call_id, a.kind, a.identifier, a.name, a.action_key, a.status, a.has_error_message
                     FROM call_actions a WHERE a.call_id = c.call_id OFFSET 0) a
WHERE  c.started_at IS NOT NULL
GROUP  BY 1, 2, 3, 4, 5;

COMMENT ON VIEW daily_action_outcomes_live IS 'daily_action_outcomes without agent_name, aggregated from call_actions at query time: what the rollup daily_action_outcomes_rollup holds. Slow over many calls; use daily_action_outcomes.';

CREATE VIEW daily_judgement_results_live WITH (security_invoker = true) AS
SELECT (c.started_at AT TIME ZONE 'UTC')::date                     AS day,
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
FROM   calls c
CROSS  JOIN LATERAL (SELECT j.criterion, j.result FROM call_judgements j WHERE j.call_id = c.call_id OFFSET 0) j
WHERE  c.started_at IS NOT NULL
GROUP  BY 1, 2, 3;

COMMENT ON VIEW daily_judgement_results_live IS 'daily_judgement_results without agent_name, aggregated from call_judgements at query time: what the rollup daily_judgement_results_rollup holds. Slow over many calls; use daily_judgement_results.';

-- The rollups: the rows of the *_live views, column for column.

CREATE TABLE daily_call_stats_rollup (
    day                     date    NOT NULL,
    model_id                text,
    calls                   bigint  NOT NULL,
    answered                bigint  NOT NULL,
    completed               bigint  NOT NULL,
    failed                  bigint  NOT NULL,
    no_answer               bigint  NOT NULL,
    voicemail               bigint  NOT NULL,
    busy                    bigint  NOT NULL,
    answer_rate             numeric,
    avg_duration_seconds    numeric,
    median_duration_seconds numeric,
    p90_duration_seconds    numeric,
    total_talk_minutes      numeric,
    reached_voicemail       bigint  NOT NULL,
    utterances              bigint,
    agent_utterances        bigint,
    human_utterances        bigint,
    variables               bigint,
    variables_collected     bigint
);

CREATE INDEX daily_call_stats_rollup_key_idx ON daily_call_stats_rollup (day, model_id);

COMMENT ON TABLE daily_call_stats_rollup IS 'The rows of daily_call_stats_live as of the last fold, one per UTC day and agent. daily_call_stats reads them for the keys not in rollup_dirty.';

CREATE TABLE daily_action_outcomes_rollup (
    day                date   NOT NULL,
    model_id           text,
    kind               text   NOT NULL,
    action             text,
    status             text,
    actions            bigint NOT NULL,
    calls              bigint NOT NULL,
    failed             bigint NOT NULL,
    with_error_message bigint NOT NULL
);

CREATE INDEX daily_action_outcomes_rollup_key_idx ON daily_action_outcomes_rollup (day, model_id);

COMMENT ON TABLE daily_action_outcomes_rollup IS 'The rows of daily_action_outcomes_live as of the last fold. daily_action_outcomes reads them for the keys (day, agent) not in rollup_dirty.';

CREATE TABLE daily_judgement_results_rollup (
    day                  date   NOT NULL,
    model_id             text,
    criterion            text   NOT NULL,
    calls                bigint NOT NULL,
    true_count           bigint NOT NULL,
    false_count          bigint NOT NULL,
    partial_count        bigint NOT NULL,
    not_applicable_count bigint NOT NULL,
    other_count          bigint NOT NULL,
    pass_rate            numeric
);

CREATE INDEX daily_judgement_results_rollup_key_idx ON daily_judgement_results_rollup (day, model_id);

COMMENT ON TABLE daily_judgement_results_rollup IS 'The rows of daily_judgement_results_live as of the last fold. daily_judgement_results reads them for the keys (day, agent) not in rollup_dirty.';

INSERT INTO daily_call_stats_rollup SELECT * FROM daily_call_stats_live;
INSERT INTO daily_action_outcomes_rollup SELECT * FROM daily_action_outcomes_live;
INSERT INTO daily_judgement_results_rollup SELECT * FROM daily_judgement_results_live;

-- The public views: rollup rows of clean keys, and the live rows of dirty
-- keys, each dirty key aggregated on its own through
-- calls_started_date_utc_model_idx (agents with an id and calls without
-- one apart, so that both use the index; OFFSET 0 keeps the planner from
-- turning the lateral subquery into a join with every key's aggregate).
-- Their columns are the ones they had, new ones appended.

CREATE OR REPLACE VIEW daily_call_stats WITH (security_invoker = true) AS
SELECT s.day, s.model_id, s.calls, s.answered, s.completed, s.failed, s.no_answer, s.voicemail, s.busy,
       s.answer_rate, s.avg_duration_seconds, s.median_duration_seconds, s.p90_duration_seconds,
       s.total_talk_minutes, a.name AS agent_name, s.reached_voicemail, s.utterances, s.agent_utterances,
       s.human_utterances, s.variables, s.variables_collected
FROM  (SELECT r.* FROM daily_call_stats_rollup r
       WHERE  NOT EXISTS (SELECT FROM rollup_dirty d WHERE d.day = r.day AND d.model_id IS NOT DISTINCT FROM r.model_id)
       UNION ALL
       SELECT v.* FROM (SELECT DISTINCT day, model_id FROM rollup_dirty WHERE model_id IS NOT NULL) k
       CROSS  JOIN LATERAL (SELECT * FROM daily_call_stats_live l WHERE l.day = k.day AND l.model_id = k.model_id OFFSET 0) v
       UNION ALL
       SELECT v.* FROM (SELECT DISTINCT day FROM rollup_dirty WHERE model_id IS NULL) k
       CROSS  JOIN LATERAL (SELECT * FROM daily_call_stats_live l WHERE l.day = k.day AND l.model_id IS NULL OFFSET 0) v) s
LEFT   JOIN agents a ON a.model_id = s.model_id;

COMMENT ON VIEW daily_call_stats IS 'Calls per UTC day and agent (from call_facts): volume, outcomes, answer rate, duration statistics, talk time, utterance and variable counts. Calls without a start time are left out. Read from daily_call_stats_rollup, and live for the days and agents changed since the last fold (rollup_dirty): exact at every moment. Rates and percentiles do not add up across rows: recompute them from call_facts for other groupings; counts and sums do.';
COMMENT ON COLUMN daily_call_stats.reached_voicemail IS 'Calls that reached a voicemail (call_facts.voicemail: status hangup_on_voicemail or left_voicemail, or a voicemail end_call_reason); voicemail counts the statuses only.';
COMMENT ON COLUMN daily_call_stats.utterances IS 'Utterances in the stored transcripts of the calls (sum of call_facts.utterances).';
COMMENT ON COLUMN daily_call_stats.agent_utterances IS 'Utterances by the agent (sum of call_facts.agent_utterances).';
COMMENT ON COLUMN daily_call_stats.human_utterances IS 'Utterances by the person (sum of call_facts.human_utterances).';
COMMENT ON COLUMN daily_call_stats.variables IS 'Collected variables stored for the calls (sum of call_facts.variables).';
COMMENT ON COLUMN daily_call_stats.variables_collected IS 'Of those, the ones the agent reports as collected (sum of call_facts.variables_collected).';

CREATE OR REPLACE VIEW daily_action_outcomes WITH (security_invoker = true) AS
SELECT s.day, s.model_id, s.kind, s.action, s.status, s.actions, s.calls, s.failed, s.with_error_message,
       g.name AS agent_name
FROM  (SELECT r.* FROM daily_action_outcomes_rollup r
       WHERE  NOT EXISTS (SELECT FROM rollup_dirty d WHERE d.day = r.day AND d.model_id IS NOT DISTINCT FROM r.model_id)
       UNION ALL
       SELECT v.* FROM (SELECT DISTINCT day, model_id FROM rollup_dirty WHERE model_id IS NOT NULL) k
       CROSS  JOIN LATERAL (SELECT * FROM daily_action_outcomes_live l WHERE l.day = k.day AND l.model_id = k.model_id OFFSET 0) v
       UNION ALL
       SELECT v.* FROM (SELECT DISTINCT day FROM rollup_dirty WHERE model_id IS NULL) k
       CROSS  JOIN LATERAL (SELECT * FROM daily_action_outcomes_live l WHERE l.day = k.day AND l.model_id IS NULL OFFSET 0) v) s
LEFT   JOIN agents g ON g.model_id = s.model_id;

COMMENT ON VIEW daily_action_outcomes IS 'Executed actions per UTC day of the call, agent, action and outcome status (from call_actions): how many ran and how many failed. Calls without a start time are left out. Read from daily_action_outcomes_rollup, and live for the days and agents changed since the last fold (rollup_dirty): exact at every moment.';

CREATE OR REPLACE VIEW daily_judgement_results WITH (security_invoker = true) AS
SELECT s.day, s.model_id, s.criterion, s.calls, s.true_count, s.false_count, s.partial_count,
       s.not_applicable_count, s.other_count, s.pass_rate, g.name AS agent_name
FROM  (SELECT r.* FROM daily_judgement_results_rollup r
       WHERE  NOT EXISTS (SELECT FROM rollup_dirty d WHERE d.day = r.day AND d.model_id IS NOT DISTINCT FROM r.model_id)
       UNION ALL
       SELECT v.* FROM (SELECT DISTINCT day, model_id FROM rollup_dirty WHERE model_id IS NOT NULL) k
       CROSS  JOIN LATERAL (SELECT * FROM daily_judgement_results_live l WHERE l.day = k.day AND l.model_id = k.model_id OFFSET 0) v
       UNION ALL
       SELECT v.* FROM (SELECT DISTINCT day FROM rollup_dirty WHERE model_id IS NULL) k
       CROSS  JOIN LATERAL (SELECT * FROM daily_judgement_results_live l WHERE l.day = k.day AND l.model_id IS NULL OFFSET 0) v) s
LEFT   JOIN agents g ON g.model_id = s.model_id;

COMMENT ON VIEW daily_judgement_results IS 'Call-quality judgements per UTC day of the call, agent and criterion (from call_judgements): how often each result was given. Only calls with judgements count (list pages and verified webhooks carry them). Calls without a start time are left out. Read from daily_judgement_results_rollup, and live for the days and agents changed since the last fold (rollup_dirty): exact at every moment.';

-- The daily views plan their live part even when no key is dirty, and its
-- estimated cost (thousands of calls per key) makes PostgreSQL compile
-- every query on them with JIT, which takes 0.1-2.5 s where the query
-- itself takes 10-50 ms. callsync's queries gain nothing from JIT: it is
-- switched off for the database, when the role migrating may (it owns
-- the database); else ALTER DATABASE … SET jit = off is for its owner.
-- +goose StatementBegin
DO $$
BEGIN
    IF pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE') THEN
        EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
    ELSE
        RAISE NOTICE 'callsync: run ALTER DATABASE % SET jit = off as its owner: the daily views are faster without JIT', current_database();
    END IF;
END
$$;
-- +goose StatementEnd

-- The columns of the *_live views and the rollups mean what the same
-- columns of the public views mean.
-- +goose StatementBegin
DO $$
DECLARE c record;
BEGIN
    FOR c IN
        SELECT m.target, a.attname, col_description(a.attrelid, a.attnum) AS description
        FROM  (VALUES ('daily_call_stats_live', 'daily_call_stats'), ('daily_call_stats_rollup', 'daily_call_stats'),
                      ('daily_action_outcomes_live', 'daily_action_outcomes'),
                      ('daily_action_outcomes_rollup', 'daily_action_outcomes'),
                      ('daily_judgement_results_live', 'daily_judgement_results'),
                      ('daily_judgement_results_rollup', 'daily_judgement_results')) AS m(target, source)
        JOIN   pg_attribute a ON a.attrelid = format('public.%I', m.source)::regclass AND a.attnum > 0
        WHERE  EXISTS (SELECT FROM pg_attribute t
                       WHERE t.attrelid = format('public.%I', m.target)::regclass AND t.attname = a.attname)
    LOOP
        EXECUTE format('COMMENT ON COLUMN public.%I.%I IS %L', c.target, c.attname, c.description);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    IF pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE') THEN
        EXECUTE format('ALTER DATABASE %I RESET jit', current_database());
    END IF;
END
$$;
-- +goose StatementEnd
-- The views go back to aggregating at query time (00011); CREATE OR REPLACE
-- cannot drop columns, so daily_call_stats is dropped and created again,
-- which drops grants on it: run deploy/sql/roles.sql after a rollback.
DROP VIEW daily_call_stats;
CREATE VIEW daily_call_stats WITH (security_invoker = true) AS
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

CREATE OR REPLACE VIEW daily_action_outcomes WITH (security_invoker = true) AS
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

COMMENT ON VIEW daily_action_outcomes IS 'Executed actions per UTC day of the call, agent, action and outcome status (from call_actions): how many ran and how many failed. Calls without a start time are left out.';

CREATE OR REPLACE VIEW daily_judgement_results WITH (security_invoker = true) AS
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

DROP TABLE daily_judgement_results_rollup;
DROP TABLE daily_action_outcomes_rollup;
DROP TABLE daily_call_stats_rollup;
DROP VIEW daily_judgement_results_live;
DROP VIEW daily_action_outcomes_live;
DROP VIEW daily_call_stats_live;
DROP TABLE rollup_dirty;
CREATE INDEX calls_started_date_utc_idx ON calls (((started_at AT TIME ZONE 'UTC')::date));
DROP INDEX calls_started_date_utc_model_idx;
