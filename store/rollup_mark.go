package store

// The statements that append rollup keys to rollup_dirty (see migration
// 00015 and rollup.go). Every transaction that changes what the daily views
// aggregate marks the keys (UTC day, agent) it changes, in the same
// transaction, with one set-based INSERT: the key a call had before the
// change and the key it has after. rollup_dirty has no unique key, so
// concurrent writers never wait on each other there; a fold deletes the
// duplicates with the rest. A call's row is locked (FOR UPDATE) before its
// old key is read, so that a concurrent writer of the same call cannot make
// the key read here stale before this transaction commits.

// markStagedSQL marks the keys of the staged calls of a batch write ($1:
// their ids), before the merge: the stored key of those already stored,
// locked in call_id order as the merge locks them, and the key each has
// after the merge (a field the payload lacks keeps its stored value).
const markStagedSQL = `
WITH old AS (
    SELECT c.call_id, c.started_at, c.model_id FROM calls c
    WHERE  c.call_id = ANY($1::text[])
    ORDER  BY c.call_id
    FOR    UPDATE)
INSERT INTO rollup_dirty (day, model_id)
SELECT DISTINCT (k.started_at AT TIME ZONE 'UTC')::date, k.model_id
FROM   pg_temp.stage_calls s
LEFT   JOIN old o ON o.call_id = s.call_id
CROSS  JOIN LATERAL (VALUES (o.started_at, o.model_id),
                            (coalesce(s.started_at, o.started_at), coalesce(s.model_id, o.model_id))) k(started_at, model_id)
WHERE  k.started_at IS NOT NULL`

// markCallSQL marks the keys of one call written statement by statement
// ($1 its id, $2 and $3 its new start and agent), before its upsert.
const markCallSQL = `
WITH old AS (SELECT started_at, model_id FROM calls WHERE call_id = $1 FOR UPDATE)
INSERT INTO rollup_dirty (day, model_id)
SELECT DISTINCT (k.started_at AT TIME ZONE 'UTC')::date, k.model_id
FROM  (SELECT started_at, model_id FROM old
       UNION ALL
       SELECT coalesce($2::timestamptz, (SELECT started_at FROM old)), coalesce($3::text, (SELECT model_id FROM old))) k
WHERE  k.started_at IS NOT NULL`

// markChangedSQL is the part of a statement that marks the keys of the
// calls a CTE named changed returned (their started_at and model_id): an
// erasure's deleted calls, a prune's pruned ones.
const markChangedSQL = `
INSERT INTO rollup_dirty (day, model_id)
SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date, model_id FROM changed WHERE started_at IS NOT NULL`
