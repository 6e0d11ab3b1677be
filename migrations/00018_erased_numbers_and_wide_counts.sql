-- +goose Up
-- Tombstones of erased phone numbers. callsync forget --phone-number
-- erases the stored calls of a number; this keeps a call of that number
-- that is queued, listed again by a poll or a backfill, or fetched later,
-- from being stored: every write of calls checks the numbers of what it
-- writes against this table (store/guard.go). The number is kept only as
-- its pseudonym under pseudonym_key (callsync_pseudonym), of its digits
-- alone, so that +1 415 555 0101 and 14155550101 give one tombstone; like
-- every pseudonym it can be tested against guesses by whoever can read
-- pseudonym_key, so the table is never granted to a reader.
CREATE TABLE erased_numbers (
    number_pseudonym text        PRIMARY KEY,
    erased_at        timestamptz NOT NULL DEFAULT now(),
    erasure_id       bigint      REFERENCES erasures (id) ON DELETE SET NULL
);

REVOKE ALL ON erased_numbers FROM PUBLIC;

COMMENT ON TABLE erased_numbers IS 'Tombstones of phone numbers erased with callsync forget --phone-number: no call from or to one of them is stored again, whichever path brings it. Holds no number: only its pseudonym. Never granted to a reader.';
COMMENT ON COLUMN erased_numbers.number_pseudonym IS 'callsync_pseudonym of the digits of the number (no +, spaces or punctuation).';
COMMENT ON COLUMN erased_numbers.erased_at IS 'When the number was erased.';
COMMENT ON COLUMN erased_numbers.erasure_id IS 'The request that erased it (erasures.id).';

-- A list page's total_records is the API's to choose: 1e12 overflowed
-- integer and failed every window of the backfill, not just its own.
ALTER TABLE backfill_checkpoints
    ALTER COLUMN next_offset   TYPE bigint,
    ALTER COLUMN total_records TYPE bigint,
    ALTER COLUMN landed        TYPE bigint;

-- +goose Down
ALTER TABLE backfill_checkpoints
    ALTER COLUMN next_offset   TYPE integer,
    ALTER COLUMN total_records TYPE integer USING least(total_records, 2147483647)::integer,
    ALTER COLUMN landed        TYPE integer USING least(landed, 2147483647)::integer;
DROP TABLE erased_numbers;
