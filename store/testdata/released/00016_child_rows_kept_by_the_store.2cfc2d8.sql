-- +goose Up
-- The child tables of calls lose their foreign keys. PostgreSQL checks a foreign key with one
-- query per inserted row: for the ~30 transcript lines and ~3 variables of each call, those checks
-- were the largest share of the database's CPU time on a fresh sync. The store writes a call's
-- child rows in the transaction that writes the call; deleting calls, which is rare, still
-- deletes their child rows, by statement-level triggers below (one statement per child table,
-- whatever the number of calls), for a DELETE or a TRUNCATE from any client. The column comments
-- still name calls.call_id: BI tools that join on declared keys (Metabase's "Foreign Key"
-- semantic type) can be told so in their data model.
ALTER TABLE transcript_lines    DROP CONSTRAINT transcript_lines_call_id_fkey;
ALTER TABLE collected_variables DROP CONSTRAINT collected_variables_call_id_fkey;
ALTER TABLE call_telephony      DROP CONSTRAINT call_telephony_call_id_fkey;
ALTER TABLE call_actions        DROP CONSTRAINT call_actions_call_id_fkey;
ALTER TABLE call_judgements     DROP CONSTRAINT call_judgements_call_id_fkey;

-- +goose StatementBegin
CREATE FUNCTION calls_delete_children() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM transcript_lines    WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM collected_variables WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM call_telephony      WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM call_actions        WHERE call_id IN (SELECT call_id FROM gone);
    DELETE FROM call_judgements     WHERE call_id IN (SELECT call_id FROM gone);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- DELETE, not TRUNCATE: a TRUNCATE that names the child tables with calls has emptied them
-- already, and may not be followed by another TRUNCATE of them in the same statement.
CREATE FUNCTION calls_truncate_children() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM transcript_lines;
    DELETE FROM collected_variables;
    DELETE FROM call_telephony;
    DELETE FROM call_actions;
    DELETE FROM call_judgements;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Only the triggers call them (firing a trigger checks no EXECUTE privilege).
REVOKE ALL ON FUNCTION calls_delete_children() FROM PUBLIC;
REVOKE ALL ON FUNCTION calls_truncate_children() FROM PUBLIC;

CREATE TRIGGER calls_delete_children AFTER DELETE ON calls
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION calls_delete_children();
CREATE TRIGGER calls_truncate_children AFTER TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION calls_truncate_children();

COMMENT ON FUNCTION calls_delete_children() IS 'Trigger function: deletes the child rows (transcript lines, variables, telephony, actions, judgements) of deleted calls, in place of foreign keys that would cost a query per inserted row.';
COMMENT ON FUNCTION calls_truncate_children() IS 'Trigger function: empties the child tables of calls when calls is truncated.';
COMMENT ON TRIGGER calls_delete_children ON calls IS 'Deleting calls deletes their child rows (see calls_delete_children).';
COMMENT ON TRIGGER calls_truncate_children ON calls IS 'Truncating calls empties its child tables (see calls_truncate_children).';

-- +goose Down
DROP TRIGGER calls_truncate_children ON calls;
DROP TRIGGER calls_delete_children ON calls;
DROP FUNCTION calls_truncate_children();
DROP FUNCTION calls_delete_children();
-- Rows whose call is gone would stop the constraints from coming back: they belong to no call.
DELETE FROM transcript_lines    t WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = t.call_id);
DELETE FROM collected_variables t WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = t.call_id);
DELETE FROM call_telephony      t WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = t.call_id);
DELETE FROM call_actions        t WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = t.call_id);
DELETE FROM call_judgements     t WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = t.call_id);
ALTER TABLE transcript_lines    ADD CONSTRAINT transcript_lines_call_id_fkey    FOREIGN KEY (call_id) REFERENCES calls (call_id) ON DELETE CASCADE;
ALTER TABLE collected_variables ADD CONSTRAINT collected_variables_call_id_fkey FOREIGN KEY (call_id) REFERENCES calls (call_id) ON DELETE CASCADE;
ALTER TABLE call_telephony      ADD CONSTRAINT call_telephony_call_id_fkey      FOREIGN KEY (call_id) REFERENCES calls (call_id) ON DELETE CASCADE;
ALTER TABLE call_actions        ADD CONSTRAINT call_actions_call_id_fkey        FOREIGN KEY (call_id) REFERENCES calls (call_id) ON DELETE CASCADE;
ALTER TABLE call_judgements     ADD CONSTRAINT call_judgements_call_id_fkey     FOREIGN KEY (call_id) REFERENCES calls (call_id) ON DELETE CASCADE;
