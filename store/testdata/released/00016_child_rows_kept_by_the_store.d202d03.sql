-- +goose Up
-- The child tables of calls lose their foreign keys. PostgreSQL checks a foreign key with one
-- query per inserted row: for the ~30 transcript lines and ~3 variables of each call, those checks
-- were about 40 % of the database's CPU time on a fresh sync. The store keeps the link instead:
-- it writes a call's child rows in the transaction that writes the call, and an erasure deletes
-- them with the call (store.Forget; TestDB_Forget_EveryTableWithACallID checks every table that
-- has a call_id column). The column comments still name calls.call_id: BI tools that join on
-- declared keys (Metabase's "Foreign Key" semantic type) can be told so in their data model.
ALTER TABLE transcript_lines    DROP CONSTRAINT transcript_lines_call_id_fkey;
ALTER TABLE collected_variables DROP CONSTRAINT collected_variables_call_id_fkey;
ALTER TABLE call_telephony      DROP CONSTRAINT call_telephony_call_id_fkey;
ALTER TABLE call_actions        DROP CONSTRAINT call_actions_call_id_fkey;
ALTER TABLE call_judgements     DROP CONSTRAINT call_judgements_call_id_fkey;

-- +goose Down
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
