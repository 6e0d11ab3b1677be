-- +goose Up
CREATE TABLE sync_runs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker           text        NOT NULL,
    command          text        NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    claimed          integer     NOT NULL,
    synced           integer     NOT NULL,
    unchanged        integer     NOT NULL,
    requeued         integer     NOT NULL,
    failed           integer     NOT NULL,
    lost             integer     NOT NULL,
    rescued          integer     NOT NULL,
    api_requests     integer     NOT NULL,
    api_rate_limited integer     NOT NULL,
    error            text
);

-- Retention prunes by end; sync_health and dashboards read the latest passes.
CREATE INDEX sync_runs_finished_at_idx ON sync_runs (finished_at);
-- sync_health finds the last successful pass without scanning the table.
CREATE INDEX sync_runs_succeeded_idx ON sync_runs (finished_at) WHERE error IS NULL;

COMMENT ON TABLE sync_runs IS 'One row per sync pass (callsync once, or each scheduled pass of callsync run): what it claimed and what became of it. Rows that finished longer ago than the worker''s --runs-retention (SYNC_RUNS_RETENTION, 30 days by default) are deleted after each pass. Invariant: claimed = synced + requeued + failed + lost.';
COMMENT ON COLUMN sync_runs.id IS 'Row id, increasing.';
COMMENT ON COLUMN sync_runs.worker IS 'Host name of the process that ran the pass (the pod name on Kubernetes).';
COMMENT ON COLUMN sync_runs.command IS 'The command that ran the pass: once or run.';
COMMENT ON COLUMN sync_runs.started_at IS 'When the pass started (the worker''s clock).';
COMMENT ON COLUMN sync_runs.finished_at IS 'When the pass ended (the worker''s clock).';
COMMENT ON COLUMN sync_runs.claimed IS 'Queue rows the pass claimed.';
COMMENT ON COLUMN sync_runs.synced IS 'Calls stored with a final status: their queue rows are done.';
COMMENT ON COLUMN sync_runs.unchanged IS 'Of the calls stored (final or not), those whose payload was the same as the stored one: only synced_at changed.';
COMMENT ON COLUMN sync_runs.requeued IS 'Claimed rows put back to pending: calls stored with a status that is not final yet (fetched again later), failures to retry, rows held back by a 429, and rows released unprocessed (shutdown, lease running out).';
COMMENT ON COLUMN sync_runs.failed IS 'Calls that used up their attempts: their queue rows are failed.';
COMMENT ON COLUMN sync_runs.lost IS 'Rows whose lease another worker took over before this one stored them.';
COMMENT ON COLUMN sync_runs.rescued IS 'Rows of crashed workers (expired leases) put back to pending before the pass.';
COMMENT ON COLUMN sync_runs.api_requests IS 'Requests the pass sent to the Synthflow API, whatever their answer.';
COMMENT ON COLUMN sync_runs.api_rate_limited IS 'Of those requests, the ones the API answered with 429 Too Many Requests.';
COMMENT ON COLUMN sync_runs.error IS 'Why the pass stopped early (database unreachable, API key refused, shutdown); NULL when it drained the queue.';

-- +goose Down
DROP TABLE sync_runs;
