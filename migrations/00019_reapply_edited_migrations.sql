-- +goose Up
-- Migrations 00001-00003, 00008, 00013 and 00016 were edited after they had been released, and
-- goose never runs an applied file again: a database migrated before an edit lacks what the edit
-- added. This applies those additions again, each written so that it changes nothing on a database
-- that has them (a fresh one, or one migrated after the edit), and so that it does not undo what a
-- later migration may have changed since. store's TestMigrate_FromEveryReleasedState builds every
-- state main's history could leave and checks that each ends with the schema of a fresh database.

-- 00001 (5976a15): room in every page of calls, so that a re-sync that only moves synced_at is a
-- HOT update. Applies to pages written from now on.
ALTER TABLE calls SET (fillfactor = 85);

-- 00002 (9b9b6fd): the body of the last response that could not be decoded.
ALTER TABLE sync_queue ADD COLUMN IF NOT EXISTS last_bad_body bytea;
COMMENT ON COLUMN sync_queue.last_bad_body IS 'The first 64 KiB of the last response body that could not be decoded, for inspection; cleared when the call is stored.';

-- 00003 (9fe0186): the token bucket's last answer.
ALTER TABLE api_limits ADD COLUMN IF NOT EXISTS granted boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN api_limits.granted IS 'Whether the last request for a token got one (internal to the token bucket).';

-- 00008 (18e6f14): sync_queue.webhook_analysis is gone (00014 drops it too; here for a database
-- that got 00014 before this edit could matter).
ALTER TABLE sync_queue DROP COLUMN IF EXISTS webhook_analysis;

-- 00013 (8bdb7b4) and 00016: trigger functions are not callable by PUBLIC. A later migration may
-- have dropped or replaced one, hence the checks.
-- +goose StatementBegin
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['sync_queue_notify_due()', 'calls_delete_children()', 'calls_truncate_children()'] LOOP
        IF to_regprocedure(f) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', to_regprocedure(f));
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- 00016 (98a1714, 5c6992c, and the merge e57557c): deleting or truncating calls deletes their
-- child rows and marks (or empties) the daily rollups. A database that ran an earlier text of
-- 00016 has no such triggers, or functions that TRUNCATE (which fails when the TRUNCATE of calls
-- names the child tables) or leave the rollups stale: every such text lacks rollup_dirty. The
-- functions are replaced only then, so that a later migration's text is kept.
-- +goose StatementBegin
DO $$
BEGIN
    IF to_regprocedure('calls_delete_children()') IS NULL
       OR position('rollup_dirty' IN (SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure('calls_delete_children()'))) = 0 THEN
        CREATE OR REPLACE FUNCTION calls_delete_children() RETURNS trigger
        LANGUAGE plpgsql AS $f$
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
$f$;
        REVOKE ALL ON FUNCTION calls_delete_children() FROM PUBLIC;
        COMMENT ON FUNCTION calls_delete_children() IS 'Trigger function: deletes the child rows (transcript lines, variables, telephony, actions, judgements) of deleted calls, in place of foreign keys that would cost a query per inserted row, and marks their rollup keys in rollup_dirty.';
    END IF;
    IF to_regprocedure('calls_truncate_children()') IS NULL
       OR position('rollup_dirty' IN (SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure('calls_truncate_children()'))) = 0 THEN
        -- DELETE, not TRUNCATE: a TRUNCATE that names the child tables with calls has emptied them
        -- already, and may not be followed by another TRUNCATE of them in the same statement.
        CREATE OR REPLACE FUNCTION calls_truncate_children() RETURNS trigger
        LANGUAGE plpgsql AS $f$
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
$f$;
        REVOKE ALL ON FUNCTION calls_truncate_children() FROM PUBLIC;
        COMMENT ON FUNCTION calls_truncate_children() IS 'Trigger function: empties the child tables of calls and the daily rollups when calls is truncated.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'calls'::regclass AND tgname = 'calls_delete_children') THEN
        CREATE TRIGGER calls_delete_children AFTER DELETE ON calls
            REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION calls_delete_children();
        COMMENT ON TRIGGER calls_delete_children ON calls IS 'Deleting calls deletes their child rows (see calls_delete_children).';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'calls'::regclass AND tgname = 'calls_truncate_children') THEN
        CREATE TRIGGER calls_truncate_children AFTER TRUNCATE ON calls
            FOR EACH STATEMENT EXECUTE FUNCTION calls_truncate_children();
        COMMENT ON TRIGGER calls_truncate_children ON calls IS 'Truncating calls empties its child tables (see calls_truncate_children).';
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Nothing: Up only re-applies what 00001-00016 define, which every build from this one on expects.
-- Rolling back past 00016 undoes it with those migrations.
