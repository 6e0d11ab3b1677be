package sync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

var _ callsync.AgentStore = (*store.DB)(nil)

type agentRow struct {
	name, phone, raw string
	deleted          bool
}

func agentRows(t *testing.T, in *intake) map[string]agentRow {
	t.Helper()
	rows, err := storetest.PoolOf(in.db).Query(t.Context(), `SELECT model_id, coalesce(name, ''), coalesce(phone_number, ''), raw::text, deleted_at IS NOT NULL FROM agents`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]agentRow{}
	for rows.Next() {
		var id string
		var r agentRow
		if err := rows.Scan(&id, &r.name, &r.phone, &r.raw, &r.deleted); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

// TestRefreshAgents: every listed agent is stored with its name and
// without its webhook URL; an agent no longer listed stays, marked
// deleted, and comes back when listed again; an agent that calls name but
// no listing has gets a row marked deleted.
func TestRefreshAgents(t *testing.T) {
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 400, Models: 130}))
	ctx := t.Context()
	models := in.srv.Models()
	sent := 0
	ids, saved, err := callsync.RefreshAgents(ctx, in.client, in.db, fastRetry, &sent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(models) || saved.Listed != len(models) || saved.New != len(models) || sent != 2 {
		t.Fatalf("listed %d (saved %+v) in %d requests, want %d in 2", len(ids), saved, sent, len(models))
	}
	rows := agentRows(t, in)
	for _, m := range models {
		r := rows[m]
		if r.name == "" || r.phone == "" || r.deleted || strings.Contains(r.raw, "external_webhook_url") || !strings.Contains(r.raw, `"agent"`) {
			t.Fatalf("agent %s = %+v: want name, phone, raw without the webhook URL, listed", m, r)
		}
	}

	// A call of an agent the API never listed, and an agent deleted upstream.
	if _, err := in.db.SaveCalls(ctx, []store.Call{{ID: "orphan-call", ModelID: new("ghost-agent"), Raw: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	in.srv.DeleteAssistant(models[0])
	if _, saved, err = callsync.RefreshAgents(ctx, in.client, in.db, fastRetry, &sent); err != nil {
		t.Fatal(err)
	}
	if saved.Deleted != 1 || saved.Unseen != 1 || saved.New != 0 {
		t.Fatalf("saved = %+v, want one deleted, one never listed, none new", saved)
	}
	rows = agentRows(t, in)
	if r := rows[models[0]]; !r.deleted || r.name == "" {
		t.Errorf("deleted agent = %+v: want it kept, named, marked deleted", r)
	}
	if r, ok := rows["ghost-agent"]; !ok || !r.deleted || r.name != "" {
		t.Errorf("never-listed agent = %+v (%v): want a row without name, marked deleted", r, ok)
	}
	if unknown, err := in.db.UnknownAgents(ctx); err != nil || len(unknown) != 0 {
		t.Errorf("UnknownAgents = %v, %v; want none", unknown, err)
	}
}

// TestAgentRefresher_Maybe: due at first, then only after the interval or
// when a stored call names an agent the table lacks.
func TestAgentRefresher_Maybe(t *testing.T) {
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 8, Calls: 50, Models: 3}))
	ctx := t.Context()
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	r := &callsync.AgentRefresher{Lister: in.client, Store: in.db, Config: fastRetry, Interval: time.Hour,
		Now: func() time.Time { return now }}
	step := func(want bool) {
		t.Helper()
		_, refreshed, err := r.Maybe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if refreshed != want {
			t.Fatalf("refreshed = %v, want %v", refreshed, want)
		}
	}
	step(true)  // at start
	step(false) // nothing new
	model := in.srv.Models()[0]
	if _, err := storetest.PoolOf(in.db).Exec(ctx, `DELETE FROM agents WHERE model_id = $1`, model); err != nil {
		t.Fatal(err)
	}
	if _, err := in.db.SaveCalls(ctx, []store.Call{{ID: "c-new-agent", ModelID: &model, Raw: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	step(true) // a call names an agent the table lacks
	if rows := agentRows(t, in); rows[model].name == "" {
		t.Fatalf("agent %s not stored after the refresh", model)
	}
	step(false)
	now = now.Add(time.Hour)
	step(true) // periodically

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	now = now.Add(time.Hour)
	if _, refreshed, err := r.Maybe(canceled); err == nil || refreshed {
		t.Fatalf("Maybe on a canceled context = %v, %v; want an error", refreshed, err)
	}
	step(true) // the failed refresh is owed still
}
