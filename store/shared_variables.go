package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

const shareVariablesSQL = `
INSERT INTO shared_variables (name) SELECT DISTINCT unnest($1::text[]) ON CONFLICT (name) DO NOTHING`

const unshareVariablesSQL = `DELETE FROM shared_variables WHERE name = ANY($1::text[])`

// The stored values follow the list: shared_value holds the value of the
// shared variables among names, NULL for the others. Values pruned by
// retention are the JSON null and stay so.
const syncSharedValuesSQL = `
UPDATE collected_variables v
SET    shared_value = CASE WHEN EXISTS (SELECT FROM shared_variables s WHERE s.name = v.name) THEN v.value END
WHERE  v.name = ANY($1::text[])
       AND v.shared_value IS DISTINCT FROM
           CASE WHEN EXISTS (SELECT FROM shared_variables s WHERE s.name = v.name) THEN v.value END`

const sharedVariablesSQL = `SELECT name FROM shared_variables ORDER BY name`

// VariableName is a collected variable's name as stored, with whether its
// values are shared with callsync_reader.
type VariableName struct {
	Name   string
	Shared bool
	// Calls counts the stored calls that have the variable.
	Calls int
}

const variablesSQL = `
SELECT coalesce(v.name, s.name) AS name, s.name IS NOT NULL AS shared, coalesce(v.calls, 0)::integer AS calls
FROM  (SELECT name, count(DISTINCT call_id) AS calls FROM collected_variables GROUP BY name) v
FULL  JOIN shared_variables s ON s.name = v.name
ORDER BY 1`

// Variables lists the collected variables stored and the shared ones, by
// name, with whether each is shared. It returns the database's error.
func (db *DB) Variables(ctx context.Context) ([]VariableName, error) {
	rows, err := db.pool.Query(ctx, variablesSQL)
	if err != nil {
		return nil, fmt.Errorf("list variables: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[VariableName])
	if err != nil {
		return nil, fmt.Errorf("list variables: %w", err)
	}
	return list, nil
}

// ShareVariables adds names to the variables whose values callsync_reader
// sees, and copies their stored values to collected_variables.shared_value,
// in one transaction. It returns how many stored values it made visible.
func (db *DB) ShareVariables(ctx context.Context, names []string) (int, error) {
	n, err := db.setShared(ctx, shareVariablesSQL, names)
	if err != nil {
		return 0, fmt.Errorf("share variables: %w", err)
	}
	return n, nil
}

// UnshareVariables removes names from the shared variables and clears their
// shared values, in one transaction. It returns how many values it hid.
func (db *DB) UnshareVariables(ctx context.Context, names []string) (int, error) {
	n, err := db.setShared(ctx, unshareVariablesSQL, names)
	if err != nil {
		return 0, fmt.Errorf("unshare variables: %w", err)
	}
	return n, nil
}

func (db *DB) setShared(ctx context.Context, sql string, names []string) (int, error) {
	var n int
	err := db.beginFunc(ctx, func(tx pgx.Tx) error {
		// Writes of calls copy values by the list they read: they wait.
		if err := lockPrivacy(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sql, names); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, syncSharedValuesSQL, names)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

// SharedVariables returns the names of the shared variables, sorted.
func (db *DB) SharedVariables(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, sharedVariablesSQL)
	if err != nil {
		return nil, fmt.Errorf("list shared variables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list shared variables: %w", err)
	}
	return names, nil
}
