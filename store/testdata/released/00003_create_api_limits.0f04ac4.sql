-- +goose Up
CREATE TABLE api_limits (
    key          text             PRIMARY KEY,
    tokens       double precision NOT NULL,
    updated_at   timestamptz      NOT NULL DEFAULT clock_timestamp(),
    paused_until timestamptz
);

COMMENT ON TABLE api_limits IS 'Shared API request budget: one token bucket per API key and host, so that every callsync process using a key stays under its rate limit together, and a 429 pauses them all.';
COMMENT ON COLUMN api_limits.key IS 'Hash of the API host and key (never the key itself).';
COMMENT ON COLUMN api_limits.tokens IS 'Requests that may be sent now, as of updated_at; refilled at the configured rate up to the burst.';
COMMENT ON COLUMN api_limits.updated_at IS 'When tokens was last computed.';
COMMENT ON COLUMN api_limits.paused_until IS 'After a 429, no request is sent with this key before this time.';

-- +goose Down
DROP TABLE api_limits;
