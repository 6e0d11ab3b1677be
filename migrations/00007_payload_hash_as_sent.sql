-- +goose Up
-- payload_hash is now the hash of the call object as the API sent it, byte
-- for byte, and of the version of callsync's normalization. Hashes written
-- before do not match any new one, so each call is written once more in
-- full on its next sync, then skipped while it does not change.
COMMENT ON COLUMN calls.payload_hash IS 'SHA-256 of the call object as the API sent it and of the version of callsync''s normalization; a re-sync of the same bytes is recognized before decoding and touches only synced_at.';

-- +goose Down
COMMENT ON COLUMN calls.payload_hash IS 'SHA-256 of the normalized payload; a re-sync with the same hash touches only synced_at.';
