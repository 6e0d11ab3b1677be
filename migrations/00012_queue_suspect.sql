-- +goose Up
-- A worker that dies holding a lease (a crash, an out-of-memory kill, a
-- lost node) used to leave its rows to be rescued without an attempt
-- counted: a call that kills every worker that fetches it came back
-- forever, and took the rows claimed with it down each time. The rescue
-- now counts the lost attempt and marks the rows suspect; a suspect row is
-- claimed alone, so it can only take itself down.
ALTER TABLE sync_queue ADD COLUMN suspect boolean NOT NULL DEFAULT false;

-- Suspect rows are claimed before others, one at a time.
CREATE INDEX sync_queue_suspect_idx ON sync_queue (next_attempt_at) WHERE state = 'pending' AND suspect;

COMMENT ON COLUMN sync_queue.suspect IS 'The row''s last lease expired while its worker held it (crash, kill, lost database): the lost attempt was counted and the row is claimed alone until it settles, so that a call that kills workers cannot hold back others.';
COMMENT ON COLUMN sync_queue.attempts IS 'Failed attempts attributable to the call (API errors, bad payloads, a worker lost while it held the row). Rate limits, shutdowns and leases taken over do not count.';

-- +goose Down
COMMENT ON COLUMN sync_queue.attempts IS 'Failed attempts attributable to the call (API errors, bad payloads). Rate limits, shutdowns and lost leases do not count.';
DROP INDEX sync_queue_suspect_idx;
ALTER TABLE sync_queue DROP COLUMN suspect;
