package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// AgentStore keeps the agents table. *store.DB implements it.
type AgentStore interface {
	SaveAgents(ctx context.Context, agents []store.Agent, complete bool) (store.AgentsSaved, error)
	UnknownAgents(ctx context.Context) ([]string, error)
}

// secretAgentFields are agent fields never stored: a webhook URL may carry
// a token in its query.
var secretAgentFields = []string{"external_webhook_url"}

// ListAgents pages GET /v2/assistants to its end and returns every agent,
// each once, in the API's order. It retries as backfill does; sent counts
// the requests made. On error it returns the agents read so far.
func ListAgents(ctx context.Context, l ModelLister, cfg IntakeConfig, sent *int) ([]api.Assistant, error) {
	cfg = cfg.withDefaults()
	var agents []api.Assistant
	seen := map[string]bool{}
	for offset := 0; ; {
		page, err := request(ctx, cfg, sent, func() (*api.AssistantPage, error) {
			return l.ListAssistants(ctx, api.MaxPageSize, offset)
		})
		if err != nil {
			return agents, fmt.Errorf("list agents: %w", err)
		}
		fresh := 0
		for _, a := range page.Assistants {
			if !seen[a.ModelID] {
				seen[a.ModelID] = true
				agents = append(agents, a)
				fresh++
			}
		}
		offset += len(page.Assistants)
		if len(page.Assistants) < api.MaxPageSize || (page.Total >= 0 && offset >= page.Total) || fresh == 0 {
			return agents, nil
		}
	}
}

// RefreshAgents lists every agent and stores the listing as complete:
// agents no longer listed are marked deleted, never removed. It returns
// the listed agents' model ids, what was stored, and the first error.
func RefreshAgents(ctx context.Context, l ModelLister, s AgentStore, cfg IntakeConfig, sent *int) ([]string, store.AgentsSaved, error) {
	listed, err := ListAgents(ctx, l, cfg, sent)
	if err != nil {
		return nil, store.AgentsSaved{}, err // a partial listing must not mark agents deleted
	}
	rows := make([]store.Agent, len(listed))
	ids := make([]string, len(listed))
	n := normalizer{}
	for i, a := range listed {
		ids[i] = a.ModelID
		rows[i] = store.Agent{
			ModelID: n.text(a.ModelID), Name: n.ptr(&a.Name), Type: n.ptr(a.Type), PhoneNumber: n.ptr(a.PhoneNumber),
			Description: n.ptr(a.Description), Language: n.ptr(a.Language), Timezone: n.ptr(a.Timezone),
			LLM: n.ptr(a.LLM), VoiceID: n.ptr(a.VoiceID), IsRecording: a.IsRecording,
			IsTranscriptDisabled: a.IsTranscriptDisabled, RedactPII: a.RedactPII,
		}
		if a.Name == "" {
			rows[i].Name = nil
		}
		raw, err := agentRaw(a.Raw)
		if err != nil {
			return nil, store.AgentsSaved{}, fmt.Errorf("agent %s: %w", a.ModelID, err)
		}
		if rows[i].Raw, err = n.json("agent", raw); err != nil {
			return nil, store.AgentsSaved{}, fmt.Errorf("agent %s: %w", a.ModelID, err)
		}
	}
	saved, err := s.SaveAgents(ctx, rows, true)
	if err != nil {
		return nil, store.AgentsSaved{}, err
	}
	return ids, saved, nil
}

// agentRaw is the agent object without its secret fields.
func agentRaw(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return json.RawMessage("{}"), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("read agent object: %w", err)
	}
	for _, k := range secretAgentFields {
		delete(m, k)
	}
	return json.Marshal(m)
}

// AgentRefresher keeps the agents table current for a long-running worker:
// Due reports whether a refresh is owed (the first time, then every
// Interval, and whenever calls name an agent the table lacks).
type AgentRefresher struct {
	Lister   ModelLister
	Store    AgentStore
	Config   IntakeConfig
	Interval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	last time.Time
}

// Maybe refreshes the agents when one is due and returns what it stored
// and whether it refreshed. A failed refresh is retried at the next call.
func (r *AgentRefresher) Maybe(ctx context.Context) (saved store.AgentsSaved, refreshed bool, err error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	due := r.last.IsZero() || now().Sub(r.last) >= r.Interval
	if !due {
		unknown, err := r.Store.UnknownAgents(ctx)
		if err != nil {
			return saved, false, err
		}
		due = len(unknown) > 0
	}
	if !due {
		return saved, false, nil
	}
	var sent int
	if _, saved, err = RefreshAgents(ctx, r.Lister, r.Store, r.Config, &sent); err != nil {
		return saved, false, err
	}
	r.last = now()
	return saved, true, nil
}
