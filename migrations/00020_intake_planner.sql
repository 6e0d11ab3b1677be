-- +goose Up
-- Intake spends Synthflow's request budget where it lands the most calls: a list page of one agent
-- carries up to 100 calls, a get one. Queue rows carry what is known of their call's agent and start
-- (from a list page, or as a hint from the unsigned webhook body), so that due rows of one agent are
-- served by one list read; rows the list does not show fall back to a get.
ALTER TABLE sync_queue
    ADD COLUMN model_id   text,
    ADD COLUMN started_at timestamptz,
    ADD COLUMN fetch_by   text    NOT NULL DEFAULT 'get' CHECK (fetch_by IN ('get', 'list')),
    ADD COLUMN hook_polls integer NOT NULL DEFAULT -1,
    ADD COLUMN extra      boolean NOT NULL DEFAULT false;

-- The planner finds due rows to serve by list, per agent.
CREATE INDEX sync_queue_list_due_idx ON sync_queue (model_id, next_attempt_at)
    WHERE state = 'pending' AND fetch_by = 'list';
-- Extras (done rows a get would complete) are taken newest first, from the budget left over.
CREATE INDEX sync_queue_extra_idx ON sync_queue (updated_at) WHERE state = 'done' AND extra;

COMMENT ON COLUMN sync_queue.model_id IS 'The call''s agent, from a list page or (a hint, unverified) the webhook body: due rows of one agent are served by one list read.';
COMMENT ON COLUMN sync_queue.started_at IS 'The call''s start, from a list page or (a hint, unverified) the webhook body: the list read that serves the row covers it.';
COMMENT ON COLUMN sync_queue.fetch_by IS 'list: served by a list read of model_id around started_at; get: fetched alone (no hint, or the list did not show the call).';
COMMENT ON COLUMN sync_queue.hook_polls IS 'polls when a webhook last moved the row ahead of its re-fetch schedule (-1: never): a webhook does so once per re-fetch, replays within the cooldown do nothing more.';
COMMENT ON COLUMN sync_queue.extra IS 'Done from a list page, which lacks custom_end_call_reason and prompt_variables: a get from the budget left over would add them.';

-- Requests sent to the API by what they were for, per minute: status shows where the budget goes.
CREATE TABLE api_requests (
    minute   timestamptz NOT NULL,
    purpose  text        NOT NULL,
    requests bigint      NOT NULL,
    PRIMARY KEY (minute, purpose)
);

COMMENT ON COLUMN api_requests.minute IS 'The minute the requests were counted in.';
COMMENT ON COLUMN api_requests.purpose IS 'What the requests were for: list, get, extra or agents.';
COMMENT ON COLUMN api_requests.requests IS 'How many were sent.';
COMMENT ON TABLE api_requests IS 'API requests sent by callsync workers, per minute and purpose (list: list pages, get: calls fetched alone, extra: gets for fields list pages lack, agents: agent lists).';

-- +goose Down
DROP TABLE api_requests;
DROP INDEX sync_queue_extra_idx;
DROP INDEX sync_queue_list_due_idx;
ALTER TABLE sync_queue
    DROP COLUMN extra,
    DROP COLUMN hook_polls,
    DROP COLUMN fetch_by,
    DROP COLUMN started_at,
    DROP COLUMN model_id;
