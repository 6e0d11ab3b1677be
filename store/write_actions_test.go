package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storebench"
	"github.com/callsync/callsync/store/storetest"
)

// TestDB_SaveCalls_ReplacesActionsAndJudgements: a payload that carries
// actions and judgements replaces the stored ones, on both write paths,
// and the per-call values on calls follow the rows they summarize.
func TestDB_SaveCalls_ReplacesActionsAndJudgements(t *testing.T) {
	for _, path := range []string{"Batched", "Slow"} {
		t.Run(path, func(t *testing.T) {
			db := testDB(t)
			ctx := t.Context()
			save := func(c store.Call) {
				t.Helper()
				var err error
				if path == "Slow" {
					err = storebench.SaveCallSlow(ctx, db, c)
				} else {
					_, err = db.SaveCalls(ctx, []store.Call{c})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			save(fullCall("a"))
			c := fullCall("a")
			c.PayloadHash = []byte("second")
			c.Actions = []store.Action{{Position: 1, Key: "#1", Kind: "unknown", Raw: []byte(`7`)}}
			c.Judgements = []store.Judgement{{Criterion: "goal", Result: new("false"), Value: new("False")}}
			c.AnsweredByHuman = new("") // judged, criterion absent: clears the stored true
			c.Labels = []string{}       // an empty array is a value: no labels now
			c.Transcript = []store.TranscriptLine{{LineNo: 1, Speaker: "assistant", Text: "hello?"}}
			c.Variables = []store.Variable{}
			save(c)

			var actions, judgements []string
			rows, _ := storetest.PoolOf(db).Query(ctx, `SELECT action_key || ':' || kind || ':' || raw::text FROM call_actions ORDER BY position`)
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				actions = append(actions, s)
			}
			rows, _ = storetest.PoolOf(db).Query(ctx, `SELECT criterion || ':' || result FROM call_judgements ORDER BY 1`)
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				judgements = append(judgements, s)
			}
			if diff := cmp.Diff([]string{"#1:unknown:7"}, actions); diff != "" {
				t.Errorf("call_actions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"goal:false"}, judgements); diff != "" {
				t.Errorf("call_judgements (-want +got):\n%s", diff)
			}
			var answered, labels string
			var utt, agentUtt, humanUtt, vars, collected int
			err := storetest.PoolOf(db).QueryRow(ctx, `SELECT answered_by_human, labels::text, utterances, agent_utterances,
				human_utterances, variables, variables_collected FROM calls`).
				Scan(&answered, &labels, &utt, &agentUtt, &humanUtt, &vars, &collected)
			if err != nil {
				t.Fatal(err)
			}
			if answered != "" || labels != "{}" || utt != 1 || agentUtt != 1 || humanUtt != 0 {
				t.Errorf("answered_by_human %q labels %s utterances %d/%d/%d", answered, labels, utt, agentUtt, humanUtt)
			}
			// An empty (non-nil) set of variables is not what the sync sends for
			// "none" (nil is), but the store honours it as a replacement.
			if vars != 0 || collected != 0 {
				t.Errorf("variables %d/%d, want 0/0", vars, collected)
			}
		})
	}
}

// TestDB_SaveCalls_CountsSurviveRetention: clearing a call's transcript
// lines and variables (retention) keeps the counts stored on calls, and a
// later payload without a transcript keeps them too.
func TestDB_SaveCalls_CountsSurviveRetention(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	if _, err := db.SaveCalls(ctx, []store.Call{fullCall("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.PoolOf(db).Exec(ctx, `DELETE FROM transcript_lines; DELETE FROM collected_variables`); err != nil {
		t.Fatal(err)
	}
	sparse := store.Call{ID: "a", Status: new("completed"), Raw: []byte(`{}`)}
	if _, err := db.SaveCalls(ctx, []store.Call{sparse}); err != nil {
		t.Fatal(err)
	}
	var utt, humanUtt, vars int
	var answered string
	if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT utterances, human_utterances, variables, answered_by_human FROM calls`).
		Scan(&utt, &humanUtt, &vars, &answered); err != nil {
		t.Fatal(err)
	}
	if utt != 2 || humanUtt != 1 || vars != 1 || answered != "true" {
		t.Errorf("utterances %d, human %d, variables %d, answered_by_human %q; want 2, 1, 1, true", utt, humanUtt, vars, answered)
	}
}
