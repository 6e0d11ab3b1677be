-- +goose Up
CREATE TABLE backfill_checkpoints (
    model_id      text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    next_offset   integer     NOT NULL DEFAULT 0,
    total_records integer,
    landed        integer,
    scans         integer     NOT NULL DEFAULT 0,
    done          boolean     NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, window_start, window_end)
);

COMMENT ON TABLE backfill_checkpoints IS 'Progress of callsync backfill: one row per agent and time window of GET /v2/calls, so that a stopped backfill continues where it stopped and a finished window is not fetched again.';
COMMENT ON COLUMN backfill_checkpoints.model_id IS 'The agent (model_id) whose calls the window lists.';
COMMENT ON COLUMN backfill_checkpoints.window_start IS 'Start of the window, inclusive (from_date).';
COMMENT ON COLUMN backfill_checkpoints.window_end IS 'End of the window, exclusive (to_date).';
COMMENT ON COLUMN backfill_checkpoints.next_offset IS 'Offset of the next page to read: every page before it is stored. 0 when the window is done or not started.';
COMMENT ON COLUMN backfill_checkpoints.total_records IS 'pagination.total_records of the last page read: how many calls the API had in the window then. NULL before the first page or when the API sent none.';
COMMENT ON COLUMN backfill_checkpoints.landed IS 'Calls of the window found in the warehouse when the window was last checked against total_records; NULL until then.';
COMMENT ON COLUMN backfill_checkpoints.scans IS 'Complete scans of the window so far; more than one means a count did not match and the window was read again.';
COMMENT ON COLUMN backfill_checkpoints.done IS 'The window was read to its end after it had closed; a rerun skips it unless --refetch.';
COMMENT ON COLUMN backfill_checkpoints.updated_at IS 'When the row last changed.';

CREATE TABLE poll_watermarks (
    model_id   text        PRIMARY KEY,
    watermark  timestamptz NOT NULL,
    polled_at  timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE poll_watermarks IS 'Where polling of GET /v2/calls has got to, per agent: each poll lists calls started since the watermark minus a lookback.';
COMMENT ON COLUMN poll_watermarks.model_id IS 'The agent (model_id) being polled.';
COMMENT ON COLUMN poll_watermarks.watermark IS 'Start time of the newest call stored by a poll that read every page; it never moves back.';
COMMENT ON COLUMN poll_watermarks.polled_at IS 'When a poll of the agent last completed.';
COMMENT ON COLUMN poll_watermarks.updated_at IS 'When the watermark last moved.';

-- +goose Down
DROP TABLE poll_watermarks;
DROP TABLE backfill_checkpoints;
