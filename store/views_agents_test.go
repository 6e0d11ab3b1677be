package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
)

// agentViewsFixture adds to viewsFixture: names for m1 and m2, voicemail
// calls in which a human spoke, judgements and actions.
func agentViewsFixture(t *testing.T) *store.DB {
	t.Helper()
	db := viewsFixture(t)
	ctx := t.Context()
	if _, err := db.SaveAgents(ctx, []store.Agent{{ModelID: "m1", Name: new("Support")}, {ModelID: "m2", Name: new("Sales")}}, true); err != nil {
		t.Fatal(err)
	}
	// A voicemail greeting transcribed as human speech: not answered.
	w1 := viewCall("w1", "m1", "left_voicemail", "UTC", "2026-03-01T09:00:00Z", 20)
	w1.Transcript = lines("human", "bot")
	w2 := viewCall("w2", "m1", "hangup_on_voicemail", "UTC", "2026-03-01T09:10:00Z", 5)
	w2.Transcript = lines("human")
	// The judge says a person answered, though nobody spoke in the transcript.
	j1 := viewCall("j1", "m2", "completed", "UTC", "2026-03-02T08:00:00Z", 60)
	j1.AnsweredByHuman = new("true")
	j1.Judgements = []store.Judgement{
		{Criterion: "answered_by_human", Result: new("true"), Value: new("True")},
		{Criterion: "goal", Result: new("partial"), Value: new("partial"), Feedback: new("no slot")},
	}
	j1.Actions = []store.Action{
		{Position: 1, Key: "info_extractor_email", Kind: "info_extractor", Identifier: new("email"), Raw: []byte(`{}`)},
		{Position: 2, Key: "transfer", Kind: "custom_function", Name: new("transfer"), Status: new("transfer-failed-timeout"), Raw: []byte(`{}`)},
	}
	// The judge says no person answered, though a human spoke.
	j2 := viewCall("j2", "m2", "completed", "UTC", "2026-03-02T09:00:00Z", 60)
	j2.Transcript = lines("human", "bot")
	j2.AnsweredByHuman = new("false")
	j2.Judgements = []store.Judgement{
		{Criterion: "answered_by_human", Result: new("false"), Value: new("false")},
		{Criterion: "goal", Result: new("true"), Value: new("true")},
	}
	j2.Actions = []store.Action{{Position: 1, Key: "transfer", Kind: "custom_function", Name: new("transfer"), Status: new("transferred"), Raw: []byte(`{}`)}}
	if _, err := db.SaveCalls(ctx, []store.Call{w1, w2, j1, j2}); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestViews_CallFacts_AnsweredMeansAPerson(t *testing.T) {
	db := agentViewsFixture(t)
	got := query(t, db, `SELECT call_id, answered, voicemail, coalesce(answered_by_human, '-'), coalesce(agent_name, '-')
		FROM call_facts WHERE call_id IN ('v1', 'v4', 'v7', 'w1', 'w2', 'j1', 'j2') ORDER BY call_id`)
	want := [][]string{
		{"j1", "true", "false", "true", "Sales"},
		{"j2", "false", "false", "false", "Sales"},
		{"v1", "true", "false", "-", "Support"},
		{"v4", "true", "false", "-", "Sales"},
		{"v7", "false", "false", "-", "-"},
		{"w1", "false", "true", "-", "Support"},
		{"w2", "false", "true", "-", "Support"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("call_facts answered (-want +got):\n%s", diff)
	}
	got = query(t, db, `SELECT day, agent_name, calls, answered, voicemail FROM daily_call_stats WHERE model_id = 'm1' ORDER BY day`)
	want = [][]string{{"2026-03-01", "Support", "6", "1", "4"}, {"2026-03-02", "Support", "1", "0", "0"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily_call_stats by agent name (-want +got):\n%s", diff)
	}
}

func TestViews_DailyActionOutcomes(t *testing.T) {
	db := agentViewsFixture(t)
	got := query(t, db, `SELECT day, agent_name, kind, action, coalesce(status, '-'), actions, calls, failed
		FROM daily_action_outcomes ORDER BY action, status`)
	want := [][]string{
		{"2026-03-02", "Sales", "info_extractor", "email", "-", "1", "1", "0"},
		{"2026-03-02", "Sales", "custom_function", "transfer", "transfer-failed-timeout", "1", "1", "1"},
		{"2026-03-02", "Sales", "custom_function", "transfer", "transferred", "1", "1", "0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily_action_outcomes (-want +got):\n%s", diff)
	}
}

func TestViews_DailyJudgementResults(t *testing.T) {
	db := agentViewsFixture(t)
	got := query(t, db, `SELECT day, agent_name, criterion, calls, true_count, false_count, partial_count, pass_rate
		FROM daily_judgement_results ORDER BY criterion`)
	want := [][]string{
		{"2026-03-02", "Sales", "answered_by_human", "2", "1", "1", "0", "0.5000"},
		{"2026-03-02", "Sales", "goal", "2", "1", "0", "1", "0.5000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily_judgement_results (-want +got):\n%s", diff)
	}
}

func TestViews_TranscriptSearch(t *testing.T) {
	db := viewsFixture(t)
	c := viewCall("s1", "m1", "completed", "UTC", "2026-03-01T09:00:00Z", 20)
	c.Transcript = []store.TranscriptLine{{LineNo: 1, Speaker: "human", Text: "I want to CANCEL my subscription, please"}}
	if _, err := db.SaveCalls(t.Context(), []store.Call{c}); err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{false, true} {
		if err := db.SetTranscriptSearch(t.Context(), on); err != nil {
			t.Fatal(err)
		}
		got := query(t, db, `SELECT call_id, line_no FROM transcript_search
			WHERE document @@ websearch_to_tsquery('simple', 'cancel subscription')`)
		if diff := cmp.Diff([][]string{{"s1", "1"}}, got); diff != "" {
			t.Errorf("search with index %v (-want +got):\n%s", on, diff)
		}
		if enabled, err := db.TranscriptSearch(t.Context()); err != nil || enabled != on {
			t.Errorf("TranscriptSearch = %v, %v; want %v", enabled, err, on)
		}
	}
}
