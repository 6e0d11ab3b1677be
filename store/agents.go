package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Agent is one row of agents, as listed by GET /v2/assistants/.
type Agent struct {
	ModelID              string
	Name                 *string
	Type                 *string
	PhoneNumber          *string
	Description          *string
	Language             *string
	Timezone             *string
	LLM                  *string
	VoiceID              *string
	IsRecording          *bool
	IsTranscriptDisabled *bool
	RedactPII            *bool
	Raw                  []byte // JSON object
}

// AgentsSaved counts what SaveAgents did.
type AgentsSaved struct {
	Listed  int // agents written from the listing
	New     int // of those, agents not stored before
	Deleted int // stored agents a complete listing lacked, marked deleted now
	Unseen  int // agents named by calls but never listed, stored as deleted
}

const upsertAgentsSQL = `
WITH listed AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::boolean[], $11::boolean[], $12::boolean[], $13::jsonb[])
           AS l(model_id, name, type, phone_number, description, language, timezone, llm, voice_id,
                is_recording, is_transcript_disabled, redact_pii, raw)
    ORDER  BY model_id)
INSERT INTO agents AS a (model_id, name, type, phone_number, description, language, timezone, llm, voice_id,
                         is_recording, is_transcript_disabled, redact_pii, raw)
SELECT * FROM listed
ON CONFLICT (model_id) DO UPDATE SET
    name = EXCLUDED.name, type = EXCLUDED.type, phone_number = EXCLUDED.phone_number,
    description = EXCLUDED.description, language = EXCLUDED.language, timezone = EXCLUDED.timezone,
    llm = EXCLUDED.llm, voice_id = EXCLUDED.voice_id, is_recording = EXCLUDED.is_recording,
    is_transcript_disabled = EXCLUDED.is_transcript_disabled, redact_pii = EXCLUDED.redact_pii,
    raw = EXCLUDED.raw, last_seen_at = now(), deleted_at = NULL
RETURNING (xmax = 0) AS inserted`

const markAgentsDeletedSQL = `
UPDATE agents SET deleted_at = now()
WHERE  deleted_at IS NULL AND model_id <> ALL ($1::text[])`

// callModelsSQL lists the distinct model ids of calls by skipping through
// calls_model_id_started_at_idx: one index probe per agent, whatever the
// number of calls.
const callModelsSQL = `
WITH RECURSIVE m AS (
    SELECT min(model_id) AS id FROM calls
    UNION ALL
    SELECT (SELECT min(model_id) FROM calls WHERE model_id > m.id) FROM m WHERE m.id IS NOT NULL)
SELECT id FROM m
WHERE  id IS NOT NULL AND NOT EXISTS (SELECT FROM agents a WHERE a.model_id = m.id)`

const insertUnseenAgentsSQL = `
INSERT INTO agents (model_id, raw, deleted_at)
SELECT id, '{}', now() FROM unnest($1::text[]) AS u(id)
ON CONFLICT (model_id) DO NOTHING`

// SaveAgents writes the agents of a listing. Each listed agent is upserted
// as listed now (deleted_at cleared). When complete (the listing was read
// to its end), stored agents it lacks are marked deleted, and agents that
// calls name but that no listing ever had are stored as deleted, without
// a name, so that every call's agent has a row. An empty listing marks
// nothing deleted. Nothing is ever deleted.
// It returns the database's error.
func (db *DB) SaveAgents(ctx context.Context, agents []Agent, complete bool) (AgentsSaved, error) {
	var res AgentsSaved
	n := len(agents)
	ids, names, types, phones, descs := make([]string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	langs, tzs, llms, voices := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	rec, notx, pii, raws := make([]*bool, n), make([]*bool, n), make([]*bool, n), make([]string, n)
	for i, a := range agents {
		ids[i], names[i], types[i], phones[i], descs[i] = a.ModelID, a.Name, a.Type, a.PhoneNumber, a.Description
		langs[i], tzs[i], llms[i], voices[i] = a.Language, a.Timezone, a.LLM, a.VoiceID
		rec[i], notx[i], pii[i], raws[i] = a.IsRecording, a.IsTranscriptDisabled, a.RedactPII, "{}"
		if a.Raw != nil {
			raws[i] = string(a.Raw)
		}
	}
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		if n > 0 {
			rows, err := tx.Query(ctx, upsertAgentsSQL, ids, names, types, phones, descs, langs, tzs, llms, voices,
				rec, notx, pii, raws)
			if err != nil {
				return fmt.Errorf("upsert: %w", err)
			}
			inserted, err := pgx.CollectRows(rows, pgx.RowTo[bool])
			if err != nil {
				return fmt.Errorf("upsert: %w", err)
			}
			res.Listed = len(inserted)
			for _, ins := range inserted {
				if ins {
					res.New++
				}
			}
		}
		if !complete || n == 0 { // an empty listing is more likely a glitch than a workspace emptied
			return nil
		}
		tag, err := tx.Exec(ctx, markAgentsDeletedSQL, ids)
		if err != nil {
			return fmt.Errorf("mark deleted: %w", err)
		}
		res.Deleted = int(tag.RowsAffected())
		unseen, err := unknownAgents(ctx, tx)
		if err != nil {
			return err
		}
		if len(unseen) > 0 {
			if _, err := tx.Exec(ctx, insertUnseenAgentsSQL, unseen); err != nil {
				return fmt.Errorf("store unlisted agents: %w", err)
			}
			res.Unseen = len(unseen)
		}
		return nil
	})
	if err != nil {
		return AgentsSaved{}, fmt.Errorf("save %d agents: %w", n, err)
	}
	return res, nil
}

// UnknownAgents returns the model ids that calls name and agents lacks:
// agents created since the last complete listing. It costs one index probe
// per agent, so a worker may ask after every pass.
func (db *DB) UnknownAgents(ctx context.Context) ([]string, error) {
	return unknownAgents(ctx, db.pool)
}

// querier is the part of *pgxpool.Pool and pgx.Tx that reads rows.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func unknownAgents(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.Query(ctx, callModelsSQL)
	if err != nil {
		return nil, fmt.Errorf("find unknown agents: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find unknown agents: %w", err)
	}
	return ids, nil
}

// AgentRow is an agent as ListAgents reports it.
type AgentRow struct {
	ModelID   string
	Name      *string
	Type      *string
	Phone     *string
	Calls     int64
	DeletedAt *time.Time
}

const listAgentsSQL = `
SELECT a.model_id, a.name, a.type, a.phone_number,
       (SELECT count(*) FROM calls c WHERE c.model_id = a.model_id) AS calls, a.deleted_at
FROM   agents a
ORDER  BY a.deleted_at IS NOT NULL, a.name NULLS LAST, a.model_id`

// ListAgents returns every stored agent with its number of calls, listed
// agents first, by name.
func (db *DB) ListAgents(ctx context.Context) ([]AgentRow, error) {
	rows, err := db.pool.Query(ctx, listAgentsSQL)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentRow, error) {
		var a AgentRow
		err := r.Scan(&a.ModelID, &a.Name, &a.Type, &a.Phone, &a.Calls, &a.DeletedAt)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out, nil
}

// AgentNames returns the names of the stored agents by model id; agents
// without a name are left out.
func (db *DB) AgentNames(ctx context.Context) (map[string]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT model_id, name FROM agents WHERE name IS NOT NULL AND name <> ''`)
	if err != nil {
		return nil, fmt.Errorf("read agent names: %w", err)
	}
	names := map[string]string{}
	var id, name string
	_, err = pgx.ForEachRow(rows, []any{&id, &name}, func() error {
		names[id] = name
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read agent names: %w", err)
	}
	return names, nil
}
