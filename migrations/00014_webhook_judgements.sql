-- +goose Up
-- Call-quality judgements from verified post-call webhooks. A webhook only
-- queues its call, and GET /v2/calls/{id} never carries judgements, so the
-- judgements of a webhook whose call is not stored yet wait on the call's
-- queue row until the call is written. The queue row is the place both sides
-- lock: the webhook locks it while it looks for the call, and the worker
-- holds it while it writes the call, so neither misses the other.

-- 00008 once added sync_queue.webhook_analysis, which nothing wrote or read;
-- it was later removed from that file. A database migrated in between still
-- has it: drop it, so that every database has the same columns.
ALTER TABLE sync_queue DROP COLUMN IF EXISTS webhook_analysis;

ALTER TABLE sync_queue
    ADD COLUMN webhook_judgements jsonb,
    ADD COLUMN webhook_judged_at  timestamptz;

-- Writes of calls look up the rows that hold judgements; they are few.
CREATE INDEX sync_queue_webhook_judgements_idx ON sync_queue (call_id) WHERE webhook_judgements IS NOT NULL;

COMMENT ON COLUMN sync_queue.webhook_judgements IS 'Judgements (criterion, result, value, feedback) of the last post-call webhook for the call whose signature verified, received before the call was stored; stored into call_judgements when the call is written (unless that payload carries judgements of its own, which are newer), then cleared. Feedback is free text about the person: not for readers. Cleared by callsync forget (the row is deleted) and by retention (SYNC_RETAIN_CALLS, counted from webhook_judged_at).';
COMMENT ON COLUMN sync_queue.webhook_judged_at IS 'When the webhook whose judgements wait in webhook_judgements was received; NULL when none wait.';

COMMENT ON TABLE call_judgements IS 'Call-quality judgements, one row per criterion: judge_results of GET /v2/calls pages, or analysis of a post-call webhook whose signature verified. The set received last replaces the stored set whole, whichever source sent it: a webhook for a stored call replaces its judgements at once; one for a call not stored yet waits in sync_queue.webhook_judgements and is stored when the call is written, unless that payload carries judgements (then the payload''s, fetched later, win). An absent, null or empty set never erases what is stored. GET /v2/calls/{id} never sends them: backfilled calls and calls of verified webhooks have them, calls only fetched one by one do not.';

-- +goose Down
COMMENT ON TABLE call_judgements IS 'Call-quality judgements, one row per criterion: judge_results of GET /v2/calls pages, or analysis of a post-call webhook whose signature verified when the call''s payload carries none. Replaced when a payload carries a non-empty set; an absent, null or empty set never erases what is stored. GET /v2/calls/{id} never sends them: backfilled calls and webhook calls have them, calls only fetched one by one do not.';
DROP INDEX sync_queue_webhook_judgements_idx;
ALTER TABLE sync_queue
    DROP COLUMN webhook_judged_at,
    DROP COLUMN webhook_judgements;
