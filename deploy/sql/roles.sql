-- callsync's roles, part 2 of 2: the grants on tables, views and columns, made by the role that
-- owns callsync's tables (the one that applied the migrations; no CREATEROLE needed). Run it
-- after deploy/sql/roles-admin.sql (part 1, once, by an administrator) and after every
-- `callsync migrate up` that adds tables, views or columns:
--
--   psql "$OWNER_DATABASE_URL" -X -v ON_ERROR_STOP=1 -f deploy/sql/roles.sql
--
-- Optional variables (psql -v NAME=VALUE):
--   reader      the BI role (default callsync_reader)
--   pii_reader  the personal-data role (default callsync_pii_reader)
--   worker      a role that runs the worker without owning the tables (section 3)
--   owner       the role that owns the tables (default: you)
--
-- It runs in one transaction and never widens access:
--   * Neither reader may write any row of any table or view, whatever PUBLIC was granted.
--   * callsync_reader gets SELECT on the views and on the columns listed in section 1 only:
--     no phone number (pseudonyms instead), name, transcript text, recording URL, raw payload,
--     variable value that is not shared, action parameter or result, judgement feedback,
--     recording object key, or queue internals. A column a later migration adds stays hidden until it is listed here.
--   * A grant it made once is recorded in role_grants and never made again: a grant revoked
--     by hand (REVOKE SELECT ON call_facts FROM callsync_reader) stays revoked when it runs
--     again. The first run takes back every earlier grant to the reader (older versions of
--     this script granted it every table), then grants the list.
--   * The views run with the rights of whoever queries them (security_invoker), so a revoke
--     on a table or column takes effect through every view.
-- It stops with an error, changing nothing, when a role is missing, when it is not run by the
-- owner, or when a grant did not take effect.

\set ON_ERROR_STOP 1
\if :{?reader}
\else
\set reader callsync_reader
\endif
\if :{?pii_reader}
\else
\set pii_reader callsync_pii_reader
\endif
\if :{?worker}
\else
\set worker ''
\endif
\if :{?owner}
\else
SELECT current_user AS owner \gset
\endif

BEGIN;

SELECT set_config('callsync.reader', :'reader', true), set_config('callsync.pii_reader', :'pii_reader', true),
       set_config('callsync.worker', :'worker', true), set_config('callsync.owner', :'owner', true) \gset cs_

DO $$
DECLARE
    reader     text := current_setting('callsync.reader');
    pii        text := current_setting('callsync.pii_reader');
    worker     text := current_setting('callsync.worker');
    owner      text := current_setting('callsync.owner');
    r          text;
    g          record;
    first_run  boolean;
BEGIN
    FOREACH r IN ARRAY ARRAY[reader, pii] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            RAISE EXCEPTION 'roles.sql: role % does not exist: run deploy/sql/roles-admin.sql first, as an administrator', r;
        END IF;
    END LOOP;
    IF to_regclass('public.role_grants') IS NULL THEN
        RAISE EXCEPTION 'roles.sql: table role_grants is missing: run callsync migrate up first';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'public.calls'::regclass), 'USAGE') THEN
        RAISE EXCEPTION 'roles.sql: % does not own callsync''s tables: run it as their owner', current_user;
    END IF;

    -- 1. callsync_reader: what dashboards need, no direct identifier.
    CREATE TEMP TABLE reader_allowed (relation text, column_name text) ON COMMIT DROP;
    INSERT INTO reader_allowed
    SELECT t.relation, c.column_name
    FROM  (VALUES
        ('calls', ARRAY['call_id', 'model_id', 'status', 'end_call_reason', 'custom_end_call_reason',
                        'type_of_call', 'campaign_type', 'started_at', 'duration_seconds', 'timezone',
                        'error_message', 'first_synced_at', 'synced_at', 'phone_number_from_pseudonym',
                        'phone_number_to_pseudonym', 'has_recording', 'transcript_pruned_at',
                        'recording_pruned_at', 'variables_pruned_at', 'details_pruned_at', 'labels',
                        'agents_used', 'assistant_version', 'recording_duration', 'deployment_type',
                        'utterances', 'agent_utterances', 'human_utterances', 'variables',
                        'variables_collected', 'answered_by_human']),
        ('transcript_lines', ARRAY['call_id', 'line_no', 'speaker']),
        ('collected_variables', ARRAY['call_id', 'agent_id', 'name', 'collected', 'shared_value']),
        ('call_telephony', ARRAY['call_id', 'hangup', 'disconnect_reason', 'duration_ms',
                                 'ringing_duration_ms', 'started_at', 'ended_at']),
        ('agents', ARRAY['model_id', 'name', 'type', 'language', 'timezone', 'llm', 'voice_id',
                         'is_recording', 'is_transcript_disabled', 'redact_pii', 'first_seen_at',
                         'last_seen_at', 'deleted_at']),
        ('call_actions', ARRAY['call_id', 'position', 'action_key', 'kind', 'identifier', 'name',
                               'action_type', 'status', 'is_relevant', 'ran_at', 'has_error_message']),
        ('call_judgements', ARRAY['call_id', 'criterion', 'result']),
        ('sync_queue', ARRAY['call_id', 'state', 'attempts', 'polls', 'next_attempt_at', 'enqueued_at',
                             'updated_at']),
        ('sync_runs', ARRAY['id', 'worker', 'command', 'started_at', 'finished_at', 'claimed', 'synced',
                            'unchanged', 'requeued', 'failed', 'lost', 'rescued', 'api_requests',
                            'api_rate_limited', 'error']),
        ('api_limits', ARRAY['paused_until']),
        ('backfill_checkpoints', ARRAY['model_id', 'window_start', 'window_end', 'next_offset',
                                       'total_records', 'landed', 'scans', 'done', 'updated_at']),
        ('poll_watermarks', ARRAY['model_id', 'watermark', 'polled_at', 'updated_at']),
        ('shared_variables', ARRAY['name', 'added_at']),
        -- Whether a call's recording is archived and its length; never where (object_key).
        ('recordings', ARRAY['call_id', 'archived', 'duration_seconds']),
        -- The daily rollups the daily views read (counts per day and agent).
        ('rollup_dirty', ARRAY['day', 'model_id']),
        ('daily_call_stats_rollup', ARRAY['day', 'model_id', 'calls', 'answered', 'completed', 'failed',
                                          'no_answer', 'voicemail', 'busy', 'answer_rate',
                                          'avg_duration_seconds', 'median_duration_seconds',
                                          'p90_duration_seconds', 'total_talk_minutes', 'reached_voicemail',
                                          'utterances', 'agent_utterances', 'human_utterances', 'variables',
                                          'variables_collected']),
        ('daily_action_outcomes_rollup', ARRAY['day', 'model_id', 'kind', 'action', 'status', 'actions',
                                               'calls', 'failed', 'with_error_message']),
        ('daily_judgement_results_rollup', ARRAY['day', 'model_id', 'criterion', 'calls', 'true_count',
                                                 'false_count', 'partial_count', 'not_applicable_count',
                                                 'other_count', 'pass_rate']),
        -- Views: whole. They read only the columns above, as the reader.
        ('call_facts', ARRAY['']),
        ('daily_call_stats', ARRAY['']),
        ('collected_variable_values', ARRAY['']),
        ('sync_health', ARRAY['']),
        ('daily_action_outcomes', ARRAY['']),
        ('daily_judgement_results', ARRAY['']),
        ('daily_call_stats_live', ARRAY['']),
        ('daily_action_outcomes_live', ARRAY['']),
        ('daily_judgement_results_live', ARRAY[''])
    ) AS t(relation, columns), unnest(t.columns) AS c(column_name);

    first_run := NOT EXISTS (SELECT FROM role_grants WHERE grantee = 'reader');
    IF first_run THEN
        -- Take back what older versions granted: every table, and future ones.
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', reader);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM %I', reader);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public REVOKE ALL ON TABLES FROM %I', owner, reader);
        FOR g IN
            SELECT c.relname, a.attname
            FROM   pg_attribute a
            JOIN   pg_class c ON c.oid = a.attrelid
            JOIN   pg_namespace n ON n.oid = c.relnamespace
            CROSS  JOIN LATERAL aclexplode(a.attacl) x
            WHERE  n.nspname = 'public' AND x.grantee = (SELECT oid FROM pg_roles WHERE rolname = reader)
        LOOP
            EXECUTE format('REVOKE ALL (%I) ON public.%I FROM %I', g.attname, g.relname, reader);
        END LOOP;
    END IF;
    FOR g IN
        SELECT a.relation, a.column_name FROM reader_allowed a
        WHERE  NOT EXISTS (SELECT FROM role_grants d
                           WHERE d.grantee = 'reader' AND d.relation = a.relation AND d.column_name = a.column_name)
        ORDER  BY 1, 2
    LOOP
        IF g.column_name = '' THEN
            EXECUTE format('GRANT SELECT ON public.%I TO %I', g.relation, reader);
            IF NOT has_table_privilege(reader, format('public.%I', g.relation), 'SELECT') THEN
                RAISE EXCEPTION 'roles.sql: SELECT on % was not granted to %', g.relation, reader;
            END IF;
        ELSE
            EXECUTE format('GRANT SELECT (%I) ON public.%I TO %I', g.column_name, g.relation, reader);
            IF NOT has_column_privilege(reader, format('public.%I', g.relation), g.column_name, 'SELECT') THEN
                RAISE EXCEPTION 'roles.sql: SELECT on %.% was not granted to %', g.relation, g.column_name, reader;
            END IF;
        END IF;
        INSERT INTO role_grants (grantee, relation, column_name) VALUES ('reader', g.relation, g.column_name);
    END LOOP;

    -- 1b. Neither reader writes, whatever PUBLIC was given: no row, column, trigger or
    --     reference on any table or view (roles-admin.sql takes CREATE and large objects).
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM PUBLIC, %I, %I',
                   reader, pii);
    FOR g IN
        SELECT DISTINCT c.relname, a.attname
        FROM   pg_attribute a
        JOIN   pg_class c ON c.oid = a.attrelid
        CROSS  JOIN LATERAL aclexplode(a.attacl) x
        WHERE  c.relnamespace = 'public'::regnamespace AND x.privilege_type IN ('INSERT', 'UPDATE', 'REFERENCES')
               AND x.grantee IN (0, (SELECT oid FROM pg_roles WHERE rolname = reader), (SELECT oid FROM pg_roles WHERE rolname = pii))
    LOOP
        EXECUTE format('REVOKE INSERT (%1$I), UPDATE (%1$I), REFERENCES (%1$I) ON public.%2$I FROM PUBLIC, %3$I, %4$I',
                       g.attname, g.relname, reader, pii);
    END LOOP;
    FOR g IN
        SELECT r.rolname, c.relname FROM pg_class c CROSS JOIN pg_roles r
        WHERE  c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND r.rolname IN (reader, pii)
               AND (has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                    OR has_any_column_privilege(r.oid, c.oid, 'INSERT, UPDATE, REFERENCES'))
    LOOP
        RAISE EXCEPTION 'roles.sql: % may still write %: revoke it from the role it has it through', g.rolname, g.relname;
    END LOOP;

    -- 2. callsync_pii_reader: every table and view, except the pseudonym key (whoever reads it
    --    can test guessed numbers against the pseudonyms) and the bookkeeping of this script.
    FOR g IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE  n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')
               AND c.relname NOT IN ('pseudonym_key', 'role_grants')
               AND NOT EXISTS (SELECT FROM role_grants d
                               WHERE d.grantee = 'pii_reader' AND d.relation = c.relname AND d.column_name = '')
        ORDER  BY 1
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO %I', g.relname, pii);
        IF NOT has_table_privilege(pii, format('public.%I', g.relname), 'SELECT') THEN
            RAISE EXCEPTION 'roles.sql: SELECT on % was not granted to %', g.relname, pii;
        END IF;
        INSERT INTO role_grants (grantee, relation, column_name) VALUES ('pii_reader', g.relname, '');
    END LOOP;

    -- 3. The worker, when it is not the owner: rows only, never the schema or the migration
    --    history. It computes pseudonyms as it writes, so it reads the key.
    IF worker <> '' THEN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = worker) THEN
            RAISE EXCEPTION 'roles.sql: worker role % does not exist: run deploy/sql/roles-admin.sql -v worker=% first', worker, worker;
        END IF;
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', worker);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON goose_db_version, pseudonym_key, role_grants FROM %I', worker);
        EXECUTE format('GRANT EXECUTE ON FUNCTION callsync_pseudonym(text) TO %I', worker);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', owner, worker);
        IF NOT has_table_privilege(worker, 'public.calls', 'INSERT') THEN
            RAISE EXCEPTION 'roles.sql: the grants to % did not take effect', worker;
        END IF;
    END IF;
END
$$;

COMMIT;
