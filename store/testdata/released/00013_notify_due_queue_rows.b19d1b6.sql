-- +goose Up
-- Announces on channel callsync_queue that queue rows became due now (a webhook, enqueue,
-- retry-failed or a release put them there), so that `callsync run` starts a pass within a
-- second instead of at its next scheduled tick. Statement-level: a backfill page of a thousand
-- ids sends one notification, and PostgreSQL folds identical notifications of one transaction.
-- +goose StatementBegin
CREATE FUNCTION sync_queue_notify_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM due_rows WHERE state = 'pending' AND next_attempt_at <= now()) THEN
        PERFORM pg_notify('callsync_queue', '');
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A trigger with a transition table takes one event; INSERT … ON CONFLICT DO UPDATE fires both.
CREATE TRIGGER sync_queue_notify_due_insert AFTER INSERT ON sync_queue
    REFERENCING NEW TABLE AS due_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_queue_notify_due();
CREATE TRIGGER sync_queue_notify_due_update AFTER UPDATE ON sync_queue
    REFERENCING NEW TABLE AS due_rows FOR EACH STATEMENT EXECUTE FUNCTION sync_queue_notify_due();

COMMENT ON FUNCTION sync_queue_notify_due() IS 'Trigger function: NOTIFY callsync_queue when a statement left a sync_queue row pending and due now. callsync run LISTENs on it to start a pass at once.';
COMMENT ON TRIGGER sync_queue_notify_due_insert ON sync_queue IS 'Wakes listening workers when inserted queue rows are due now (see sync_queue_notify_due).';
COMMENT ON TRIGGER sync_queue_notify_due_update ON sync_queue IS 'Wakes listening workers when updated queue rows are due now (see sync_queue_notify_due).';

-- +goose Down
DROP TRIGGER sync_queue_notify_due_update ON sync_queue;
DROP TRIGGER sync_queue_notify_due_insert ON sync_queue;
DROP FUNCTION sync_queue_notify_due();
