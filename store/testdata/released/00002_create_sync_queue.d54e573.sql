-- +goose Up
CREATE TABLE sync_queue (
    call_id         text        PRIMARY KEY,
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    polls           integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    lease_token     bigint,
    requeue         boolean     NOT NULL DEFAULT false,
    last_error      text,
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The claim reads only due pending rows, in next_attempt_at order; done rows never enter this index.
CREATE INDEX sync_queue_due_idx ON sync_queue (next_attempt_at) WHERE state = 'pending';
-- Expired leases are found without scanning the table.
CREATE INDEX sync_queue_running_idx ON sync_queue (locked_until) WHERE state = 'running';
CREATE INDEX sync_queue_failed_idx ON sync_queue (updated_at) WHERE state = 'failed';

COMMENT ON TABLE sync_queue IS 'Call ids waiting to be fetched from the Synthflow API and stored. Filled by callsync enqueue, the webhook receiver, polling and backfill; drained by the worker.';
COMMENT ON COLUMN sync_queue.call_id IS 'Synthflow call id.';
COMMENT ON COLUMN sync_queue.state IS 'pending: waiting until next_attempt_at; running: claimed by a worker until locked_until; done: stored with a final status; failed: gave up (see last_error).';
COMMENT ON COLUMN sync_queue.attempts IS 'Failed attempts attributable to the call (API errors, bad payloads). Rate limits, shutdowns and lost leases do not count.';
COMMENT ON COLUMN sync_queue.polls IS 'Times the call was stored with a status that is not final and re-queued to be fetched again.';
COMMENT ON COLUMN sync_queue.next_attempt_at IS 'When a pending row becomes due.';
COMMENT ON COLUMN sync_queue.locked_until IS 'End of the lease of a running row; after it, any worker may claim the row again.';
COMMENT ON COLUMN sync_queue.lease_token IS 'Token of the claim that holds the lease; a worker whose lease was taken over cannot complete the row.';
COMMENT ON COLUMN sync_queue.requeue IS 'The call was enqueued again while running: it goes back to pending when the running sync ends.';
COMMENT ON COLUMN sync_queue.last_error IS 'The last failure, one line: what was being done, HTTP status and API message.';
COMMENT ON COLUMN sync_queue.enqueued_at IS 'When the call id was last enqueued.';
COMMENT ON COLUMN sync_queue.updated_at IS 'When the row last changed.';

-- +goose Down
DROP TABLE sync_queue;
