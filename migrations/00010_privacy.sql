-- +goose Up
-- Privacy: erasure that the next sync cannot undo, retention that the write
-- path honours, pseudonyms that BI readers can count by without seeing a
-- phone number, and variables whose values readers may see.

-- Erasure: one tombstone per erased call. It holds no personal data: the
-- call id is an opaque id that Synthflow assigned, which names the call
-- only to whoever can read the Synthflow workspace, where the call is
-- anyway; it is what intake must recognize to refuse the call. model_id
-- and started_at let verify and backfill count an erased call where the
-- API still counts it, and are facts about the agent, not the person.
CREATE TABLE erasures (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now(),
    requested integer     NOT NULL,
    erased    integer     NOT NULL,
    reason    text
);

COMMENT ON TABLE erasures IS 'Audit of erasure requests (callsync forget): one row per request, without any identifier of the calls or people concerned.';
COMMENT ON COLUMN erasures.id IS 'Row id, increasing.';
COMMENT ON COLUMN erasures.erased_at IS 'When the request was carried out (its transaction).';
COMMENT ON COLUMN erasures.requested IS 'Call ids and phone numbers given in the request.';
COMMENT ON COLUMN erasures.erased IS 'Calls erased by the request: stored calls deleted and call ids tombstoned.';
COMMENT ON COLUMN erasures.reason IS 'Free text given with --reason (a ticket number, say); NULL when none. It must not name the person.';

CREATE TABLE erased_calls (
    call_id    text        PRIMARY KEY,
    model_id   text,
    started_at timestamptz,
    erased_at  timestamptz NOT NULL DEFAULT now(),
    erasure_id bigint      REFERENCES erasures (id) ON DELETE SET NULL
);

CREATE INDEX erased_calls_model_started_idx ON erased_calls (model_id, started_at);

COMMENT ON TABLE erased_calls IS 'Tombstones of erased calls: no intake path (enqueue, webhook, poll, backfill, verify --fix, a fetch in flight) stores or queues these calls again. No personal data: see the migration for why the call id is kept.';
COMMENT ON COLUMN erased_calls.call_id IS 'Synthflow call id of the erased call.';
COMMENT ON COLUMN erased_calls.model_id IS 'Agent that handled the call, when it was stored; lets verify count the call where the API still does.';
COMMENT ON COLUMN erased_calls.started_at IS 'When the call started, when it was stored; lets verify count the call in its window.';
COMMENT ON COLUMN erased_calls.erased_at IS 'When the call was erased.';
COMMENT ON COLUMN erased_calls.erasure_id IS 'The request that erased it (erasures.id).';

-- Pseudonyms: HMAC-SHA256 under a key generated here, in a table that only
-- the owner (and the worker) can read. The pads of the key are stored, so
-- that HMAC is two sha256 calls and needs no extension:
-- HMAC(K, m) = sha256((K xor opad) || sha256((K xor ipad) || m)).
CREATE TABLE pseudonym_key (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    inner_pad  bytea       NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad  bytea       NOT NULL CHECK (length(outer_pad) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE pseudonym_key IS 'The secret key of the phone number pseudonyms (HMAC-SHA256), as its inner and outer pads. One row. Never granted to a reader: whoever reads it can test guesses of phone numbers against the pseudonyms.';
COMMENT ON COLUMN pseudonym_key.id IS 'Always true: the table has one row.';
COMMENT ON COLUMN pseudonym_key.inner_pad IS 'The 64-byte key XOR 0x36.';
COMMENT ON COLUMN pseudonym_key.outer_pad IS 'The 64-byte key XOR 0x5c.';
COMMENT ON COLUMN pseudonym_key.created_at IS 'When the key was generated.';

-- 32 random bytes from two v4 UUIDs (244 random bits), zero-padded to the
-- 64-byte block of SHA-256.
INSERT INTO pseudonym_key (inner_pad, outer_pad)
SELECT (SELECT decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 54), 2, '0'), '' ORDER BY i), 'hex')
        FROM generate_series(0, 63) i),
       (SELECT decode(string_agg(lpad(to_hex(get_byte(k.key, i) # 92), 2, '0'), '' ORDER BY i), 'hex')
        FROM generate_series(0, 63) i)
FROM  (SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') || repeat('00', 32), 'hex') AS key) k;

-- +goose StatementBegin
CREATE FUNCTION callsync_pseudonym(value text) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(value, 'UTF8'))), 'hex')
FROM   pseudonym_key k
$$;
-- +goose StatementEnd

-- Not SECURITY DEFINER: it runs with its caller's rights, so only a role
-- that may read pseudonym_key can compute a pseudonym (and so test guesses).
REVOKE ALL ON FUNCTION callsync_pseudonym(text) FROM PUBLIC;

COMMENT ON FUNCTION callsync_pseudonym(text) IS 'HMAC-SHA256 of a value under pseudonym_key, hex: the pseudonym of a phone number. Callable only by roles that can read pseudonym_key.';

ALTER TABLE calls
    ADD COLUMN phone_number_from_pseudonym text,
    ADD COLUMN phone_number_to_pseudonym   text,
    ADD COLUMN has_recording               boolean GENERATED ALWAYS AS (coalesce(recording_url, '') <> '') STORED,
    ADD COLUMN transcript_pruned_at        timestamptz,
    ADD COLUMN recording_pruned_at         timestamptz,
    ADD COLUMN variables_pruned_at         timestamptz,
    ADD COLUMN details_pruned_at           timestamptz;

UPDATE calls
SET    phone_number_from_pseudonym = callsync_pseudonym(phone_number_from),
       phone_number_to_pseudonym   = callsync_pseudonym(phone_number_to)
WHERE  phone_number_from IS NOT NULL OR phone_number_to IS NOT NULL;

COMMENT ON COLUMN calls.phone_number_from_pseudonym IS 'Pseudonym of phone_number_from: HMAC-SHA256 under pseudonym_key, hex. The same number always gives the same pseudonym, so calls per caller can be counted without the number.';
COMMENT ON COLUMN calls.phone_number_to_pseudonym IS 'Pseudonym of phone_number_to, as phone_number_from_pseudonym.';
COMMENT ON COLUMN calls.has_recording IS 'A recording URL is stored (false once the recording was pruned).';
COMMENT ON COLUMN calls.transcript_pruned_at IS 'When retention (SYNC_RETAIN_TRANSCRIPTS) emptied the text of the transcript lines; a re-sync never stores a transcript again. NULL when not pruned.';
COMMENT ON COLUMN calls.recording_pruned_at IS 'When retention (SYNC_RETAIN_RECORDINGS) removed the recording URL; a re-sync never stores one again. NULL when not pruned.';
COMMENT ON COLUMN calls.variables_pruned_at IS 'When retention (SYNC_RETAIN_VARIABLES) removed the values of the collected and pre-call variables and the parameters and results of the actions (extractors return what they collected); names, collected flags and what ran stay, and a re-sync never stores values again. NULL when not pruned.';
COMMENT ON COLUMN calls.details_pruned_at IS 'When retention (SYNC_RETAIN_CALLS) removed everything personal of the call (numbers, names, lead_name, agent_phone_number, raw, transcript, recording, variable values, action results, judgement values and feedback); the facts (status, times, durations, agent) stay, and a re-sync never brings the rest back. NULL when not pruned.';

ALTER TABLE collected_variables ADD COLUMN shared_value jsonb;

COMMENT ON COLUMN collected_variables.shared_value IS 'The value when the variable is in shared_variables (readers without access to personal data see it), else NULL.';

CREATE TABLE shared_variables (
    name     text        PRIMARY KEY,
    added_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE shared_variables IS 'Collected variables whose values callsync_reader may see (collected_variables.shared_value), kept by the owner with callsync variables share/unshare. Other variables show only their name and whether they were collected.';
COMMENT ON COLUMN shared_variables.name IS 'Variable name (collected_variables.name).';
COMMENT ON COLUMN shared_variables.added_at IS 'When the variable was shared.';

-- What deploy/sql/roles.sql has granted, so that running it again grants
-- only what is new to it and never gives back a grant taken away since.
CREATE TABLE role_grants (
    grantee    text        NOT NULL CHECK (grantee IN ('reader', 'pii_reader')),
    relation   text        NOT NULL,
    column_name text        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grantee, relation, column_name)
);

COMMENT ON TABLE role_grants IS 'Grants deploy/sql/roles.sql has made to the reader roles, one row each: a later run grants only what is not here, so a grant revoked by hand stays revoked. Delete a row to have the next run grant it again.';
COMMENT ON COLUMN role_grants.grantee IS 'reader (callsync_reader, or the -v reader role) or pii_reader (callsync_pii_reader).';
COMMENT ON COLUMN role_grants.relation IS 'Table or view granted.';
COMMENT ON COLUMN role_grants.column_name IS 'Column granted (SELECT on that column only); empty for the whole table or view.';
COMMENT ON COLUMN role_grants.granted_at IS 'When the grant was made.';

-- +goose Down
DROP TABLE role_grants;
ALTER TABLE collected_variables DROP COLUMN shared_value;
DROP TABLE shared_variables;
ALTER TABLE calls
    DROP COLUMN phone_number_from_pseudonym,
    DROP COLUMN phone_number_to_pseudonym,
    DROP COLUMN has_recording,
    DROP COLUMN transcript_pruned_at,
    DROP COLUMN recording_pruned_at,
    DROP COLUMN variables_pruned_at,
    DROP COLUMN details_pruned_at;
DROP FUNCTION callsync_pseudonym(text);
DROP TABLE pseudonym_key;
DROP TABLE erased_calls;
DROP TABLE erasures;
