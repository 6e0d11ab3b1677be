-- +goose Up
-- Recordings archived into storage the user owns (SYNC_RECORDINGS_URL): Synthflow's recording_url goes
-- away on 2027-01-10, and the link of GET /v2/calls/{id}/recording lasts 24 hours. One row per stored
-- call, added when the call is first stored (a statement-level trigger: one INSERT per write, whatever
-- the number of calls). The row outlives nothing it should not: deleting calls (forget) and pruning
-- recordings (retention) mark an archived object for deletion ('delete') and drop rows without one;
-- the worker deletes the object, then marks the row 'deleted'.
CREATE TABLE recordings (
    call_id          text        PRIMARY KEY,
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'archived', 'none', 'processing', 'gone', 'error', 'delete', 'deleted')),
    call_started_at  timestamptz NOT NULL,
    object_key       text,
    size_bytes       bigint,
    content_type     text,
    sha256           bytea,
    duration_seconds double precision,
    archived_at      timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    next_try_at      timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    archived         boolean     GENERATED ALWAYS AS (state = 'archived') STORED
);

-- What the archiver takes next, oldest calls first: a call's audio may be deleted upstream by age.
CREATE INDEX recordings_due_idx ON recordings (call_started_at)
    WHERE state IN ('pending', 'processing', 'none', 'error') AND next_try_at < 'infinity';
CREATE INDEX recordings_delete_idx ON recordings (call_id) WHERE state = 'delete';

COMMENT ON TABLE recordings IS 'One row per stored call: whether its recording is archived in the recordings storage (SYNC_RECORDINGS_URL), where, and why not.';
COMMENT ON COLUMN recordings.call_id IS 'The call (calls.call_id).';
COMMENT ON COLUMN recordings.state IS 'pending: not asked yet; archived: the object is stored; none: the API has no recording (asked again a few times); processing: the API is still preparing it; gone: deleted upstream; error: failed, tried again at next_try_at (given up when next_try_at is infinity); delete: the object is to be deleted (forget, retention); deleted: it was.';
COMMENT ON COLUMN recordings.call_started_at IS 'When the call started (its first sync when unknown): the date in the object key and the age of the backlog.';
COMMENT ON COLUMN recordings.object_key IS 'Key of the object in the recordings storage, relative to its prefix: YYYY/MM/DD/<call id>.<ext>. No personal data.';
COMMENT ON COLUMN recordings.size_bytes IS 'Size of the archived object in bytes.';
COMMENT ON COLUMN recordings.content_type IS 'Content type the download link served, e.g. audio/wav.';
COMMENT ON COLUMN recordings.sha256 IS 'SHA-256 of the archived bytes, computed while they streamed.';
COMMENT ON COLUMN recordings.duration_seconds IS 'Length of the recording in seconds: from the WAV header, else the list endpoint''s recording_duration; NULL when unknown.';
COMMENT ON COLUMN recordings.archived_at IS 'When the object was stored.';
COMMENT ON COLUMN recordings.attempts IS 'Requests made for this recording that did not end it (errors, processing, no recording yet).';
COMMENT ON COLUMN recordings.next_try_at IS 'When the archiver may take the row again; infinity when it never will.';
COMMENT ON COLUMN recordings.last_error IS 'Why the last attempt failed (no URL, no personal data).';
COMMENT ON COLUMN recordings.updated_at IS 'When the row last changed.';
COMMENT ON COLUMN recordings.archived IS 'The recording is archived (state = archived): what callsync_reader may see.';

INSERT INTO recordings (call_id, call_started_at)
SELECT call_id, coalesce(started_at, first_synced_at) FROM calls WHERE recording_pruned_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION recordings_on_calls_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recordings (call_id, call_started_at)
    SELECT call_id, coalesce(started_at, first_synced_at) FROM added WHERE recording_pruned_at IS NULL
    ON CONFLICT (call_id) DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION recordings_on_calls_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE recordings SET state = 'delete', updated_at = now()
    WHERE  call_id IN (SELECT call_id FROM gone) AND object_key IS NOT NULL AND state <> 'deleted';
    DELETE FROM recordings WHERE call_id IN (SELECT call_id FROM gone) AND object_key IS NULL AND state <> 'deleted';
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION recordings_on_calls_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE recordings SET state = 'delete', updated_at = now() WHERE object_key IS NOT NULL AND state <> 'deleted';
    DELETE FROM recordings WHERE object_key IS NULL AND state <> 'deleted';
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Trigger functions run as triggers only: nobody calls them.
REVOKE ALL ON FUNCTION recordings_on_calls_insert() FROM PUBLIC;
REVOKE ALL ON FUNCTION recordings_on_calls_delete() FROM PUBLIC;
REVOKE ALL ON FUNCTION recordings_on_calls_truncate() FROM PUBLIC;

CREATE TRIGGER recordings_on_calls_insert AFTER INSERT ON calls
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION recordings_on_calls_insert();
CREATE TRIGGER recordings_on_calls_delete AFTER DELETE ON calls
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION recordings_on_calls_delete();
CREATE TRIGGER recordings_on_calls_truncate AFTER TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION recordings_on_calls_truncate();

-- +goose Down
DROP TRIGGER recordings_on_calls_truncate ON calls;
DROP TRIGGER recordings_on_calls_delete ON calls;
DROP TRIGGER recordings_on_calls_insert ON calls;
DROP FUNCTION recordings_on_calls_truncate();
DROP FUNCTION recordings_on_calls_delete();
DROP FUNCTION recordings_on_calls_insert();
DROP TABLE recordings;
