package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/report"
	"github.com/callsync/callsync/store/storetest"
)

// viewCall builds a call for the views fixture: an empty model or start, a
// time zone of "-" and a negative duration mean "not sent".
func viewCall(id, model, status, tz, start string, duration int32) store.Call {
	c := store.Call{ID: id, Raw: []byte(`{"call_id":"` + id + `"}`), Status: new(status),
		TypeOfCall: new("outbound"), EndCallReason: new("agent_goodbye")}
	if model != "" {
		c.ModelID = new(model)
	}
	if tz != "-" {
		c.Timezone = new(tz)
	}
	if start != "" {
		t, err := time.Parse(time.RFC3339, start)
		if err != nil {
			panic(err)
		}
		c.StartedAt = &t
	}
	if duration >= 0 {
		c.DurationSeconds = new(duration)
	}
	return c
}

func lines(speakers ...string) []store.TranscriptLine {
	out := make([]store.TranscriptLine, len(speakers))
	for i, s := range speakers {
		out[i] = store.TranscriptLine{LineNo: int32(i + 1), Speaker: s, Text: "words " + s}
	}
	return out
}

// viewsFixture stores eight calls whose view rows the tests know by heart.
// Time zones: valid ones, junk ("string", empty, "+02:00"), one in lower
// case, NULL; telephony with and without ringing, and ringing longer than
// the call; transcripts with every kind of speaker; variables of every JSON
// type.
func viewsFixture(t *testing.T) *store.DB {
	t.Helper()
	db := testDB(t)
	ms := func(n int64) *int64 { return &n }

	v1 := viewCall("v1", "m1", "completed", "America/New_York", "2026-03-01T23:30:00Z", 120)
	v1.TypeOfCall = new("inbound")
	v1.RecordingURL = new("https://rec/v1")
	v1.Telephony = &store.Telephony{DurationMS: ms(100_000), RingingDurationMS: ms(15_000)}
	v1.Transcript = lines("bot", "human", "assistant", "human", "")
	v1.Variables = []store.Variable{
		{AgentID: "a1", Name: "user_name", Value: []byte(`"Jo"`), Collected: new(true)},
		{AgentID: "a1", Name: "age", Value: []byte(`42`), Collected: new(false)},
		{AgentID: "a1", Name: "ok", Value: []byte(`true`)},
	}
	v2 := viewCall("v2", "m1", "no-answer", "string", "2026-03-01T10:00:00Z", 5)
	v2.EndCallReason = new("human_pick_up_cut_off")
	v2.RecordingURL = new("")
	v3 := viewCall("v3", "m1", "left_voicemail", "europe/madrid", "2026-03-01T12:15:00Z", 30)
	v3.EndCallReason = new("voicemail_message_left")
	v3.RecordingURL = new("https://rec/v3")
	v3.Telephony = &store.Telephony{DurationMS: ms(20_000)}
	v3.Transcript = lines("bot")
	v4 := viewCall("v4", "m2", "completed", "Asia/Tokyo", "2026-03-02T01:00:00Z", 200)
	v4.Telephony = &store.Telephony{DurationMS: ms(5_000), RingingDurationMS: ms(9_000)}
	v4.Transcript = lines("human")
	v4.Variables = []store.Variable{
		{AgentID: "", Name: "slot", Value: []byte(`{"d": "mon"}`), Collected: new(true)},
		{AgentID: "", Name: "note", Value: []byte(`null`), Collected: new(false)},
	}
	v5 := viewCall("v5", "m1", "busy", "-", "2026-03-02T00:30:00Z", -1)
	v6 := viewCall("v6", "m1", "in-progress", "", "", 7)
	v7 := viewCall("v7", "", "failed", "+02:00", "2026-03-01T05:00:00Z", 0)
	v7.EndCallReason = new("")
	v8 := viewCall("v8", "m1", "hangup_on_voicemail", "Pacific/Kiritimati", "2026-03-01T20:00:00Z", 10)
	v8.EndCallReason = new("voicemail")

	if _, err := db.SaveCalls(t.Context(), []store.Call{v1, v2, v3, v4, v5, v6, v7, v8}); err != nil {
		t.Fatal(err)
	}
	return db
}

func query(t *testing.T, db *store.DB, sql string) [][]string {
	t.Helper()
	tab, err := report.Query(t.Context(), db, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tab.Rows
}

func TestViews_CallFacts_Columns(t *testing.T) {
	db := viewsFixture(t)
	tab, err := report.Query(t.Context(), db, `SELECT * FROM call_facts LIMIT 0`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"call_id", "model_id", "direction", "campaign_type", "status", "end_call_reason",
		"custom_end_call_reason", "started_at", "started_date_utc", "started_hour_utc", "local_timezone",
		"started_date_local", "started_hour_local", "duration_seconds", "talk_seconds", "ring_seconds",
		"answered", "utterances", "agent_utterances", "human_utterances", "other_utterances", "variables",
		"variables_collected", "has_recording", "agent_name", "voicemail", "answered_by_human",
		"labels", "agents_used", "deployment_type", "assistant_version", "recording_duration",
		"caller_pseudonym", "callee_pseudonym"}
	if diff := cmp.Diff(want, tab.Columns); diff != "" {
		t.Errorf("call_facts columns (-want +got):\n%s", diff)
	}
}

func TestViews_CallFacts_LocalTime(t *testing.T) {
	db := viewsFixture(t)
	got := query(t, db, `SELECT call_id, local_timezone, started_date_utc, started_hour_utc, started_date_local, started_hour_local
		FROM call_facts ORDER BY call_id`)
	want := [][]string{
		{"v1", "America/New_York", "2026-03-01", "23", "2026-03-01", "18"}, // EST, UTC-5
		{"v2", "UTC", "2026-03-01", "10", "2026-03-01", "10"},              // 'string' is no zone
		{"v3", "Europe/Madrid", "2026-03-01", "12", "2026-03-01", "13"},    // found case-insensitively
		{"v4", "Asia/Tokyo", "2026-03-02", "1", "2026-03-02", "10"},
		{"v5", "UTC", "2026-03-02", "0", "2026-03-02", "0"}, // NULL time zone
		{"v6", "UTC", "NULL", "NULL", "NULL", "NULL"},       // empty time zone, no start time
		{"v7", "UTC", "2026-03-01", "5", "2026-03-01", "5"}, // '+02:00' is not a zone name
		{"v8", "Pacific/Kiritimati", "2026-03-01", "20", "2026-03-02", "10"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("call_facts local time (-want +got):\n%s", diff)
	}
}

func TestViews_CallFacts_Measures(t *testing.T) {
	db := viewsFixture(t)
	got := query(t, db, `SELECT call_id, direction, status, duration_seconds, talk_seconds, ring_seconds, answered,
		utterances, agent_utterances, human_utterances, other_utterances, variables, variables_collected, has_recording
		FROM call_facts ORDER BY call_id`)
	want := [][]string{
		// telephony 100 s minus 15 s ringing; speakers bot, human, assistant, human and one before any speaker
		{"v1", "inbound", "completed", "120", "85.0", "15.0", "true", "5", "2", "2", "1", "3", "1", "true"},
		// no telephony: talk is the billed duration; an empty recording URL is none
		{"v2", "outbound", "no-answer", "5", "5.0", "NULL", "false", "0", "0", "0", "0", "0", "0", "false"},
		// telephony without ringing: all of it is talk
		{"v3", "outbound", "left_voicemail", "30", "20.0", "NULL", "false", "1", "1", "0", "0", "0", "0", "true"},
		// ringing longer than the telephony duration: talk is 0, not negative
		{"v4", "outbound", "completed", "200", "0.0", "9.0", "true", "1", "0", "1", "0", "2", "1", "false"},
		{"v5", "outbound", "busy", "NULL", "NULL", "NULL", "false", "0", "0", "0", "0", "0", "0", "false"},
		{"v6", "outbound", "in-progress", "7", "7.0", "NULL", "false", "0", "0", "0", "0", "0", "0", "false"},
		{"v7", "outbound", "failed", "0", "0.0", "NULL", "false", "0", "0", "0", "0", "0", "0", "false"},
		{"v8", "outbound", "hangup_on_voicemail", "10", "10.0", "NULL", "false", "0", "0", "0", "0", "0", "0", "false"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("call_facts measures (-want +got):\n%s", diff)
	}
}

func TestViews_CallFacts_EndReason(t *testing.T) {
	db := viewsFixture(t)
	got := query(t, db, `SELECT call_id, end_call_reason FROM call_facts WHERE call_id IN ('v2', 'v7') ORDER BY 1`)
	want := [][]string{{"v2", "human_pick_up_cut_off"}, {"v7", "NULL"}} // an empty reason is none
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("call_facts end reasons (-want +got):\n%s", diff)
	}
}

func TestViews_DailyCallStats(t *testing.T) {
	db := viewsFixture(t)
	got := query(t, db, `SELECT day, model_id, calls, answered, completed, failed, no_answer, voicemail, busy, answer_rate,
		avg_duration_seconds, median_duration_seconds, p90_duration_seconds, total_talk_minutes
		FROM daily_call_stats ORDER BY day, model_id NULLS FIRST`)
	want := [][]string{
		// v7 alone: no agent
		{"2026-03-01", "NULL", "1", "0", "0", "1", "0", "0", "0", "0.0000", "0.0", "0.0", "0.0", "0.0"},
		// v1, v2, v3, v8: durations 120, 5, 30, 10; talk 85 + 5 + 20 + 10 s = 2 min;
		// median (10 + 30) / 2; p90 at rank 2.7 of 0..3: 30 + 0.7 * (120 - 30)
		{"2026-03-01", "m1", "4", "1", "1", "0", "1", "2", "0", "0.2500", "41.3", "20.0", "93.0", "2.0"},
		// v5 only (v6 has no start time): no duration known
		{"2026-03-02", "m1", "1", "0", "0", "0", "0", "0", "1", "0.0000", "NULL", "NULL", "NULL", "0.0"},
		{"2026-03-02", "m2", "1", "1", "1", "0", "0", "0", "0", "1.0000", "200.0", "200.0", "200.0", "0.0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily_call_stats (-want +got):\n%s", diff)
	}
}

func TestViews_CollectedVariableValues(t *testing.T) {
	db := viewsFixture(t)
	// Values of shared variables only; the others show name and collected.
	if n, err := db.ShareVariables(t.Context(), []string{"age", "note", "slot"}); err != nil || n != 3 {
		t.Fatalf("ShareVariables = %d, %v; want 3 values shared", n, err)
	}
	got := query(t, db, `SELECT call_id, model_id, started_at, agent_id, variable, value, value_type, collected, shared
		FROM collected_variable_values ORDER BY call_id, agent_id, variable`)
	want := [][]string{
		{"v1", "m1", "2026-03-01 23:30:00Z", "a1", "age", "42", "number", "false", "true"},
		{"v1", "m1", "2026-03-01 23:30:00Z", "a1", "ok", "NULL", "NULL", "NULL", "false"},
		{"v1", "m1", "2026-03-01 23:30:00Z", "a1", "user_name", "NULL", "NULL", "true", "false"},
		{"v4", "m2", "2026-03-02 01:00:00Z", "", "note", "NULL", "null", "false", "true"},
		{"v4", "m2", "2026-03-02 01:00:00Z", "", "slot", `{"d": "mon"}`, "object", "true", "true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collected_variable_values (-want +got):\n%s", diff)
	}
	if n, err := db.UnshareVariables(t.Context(), []string{"slot"}); err != nil || n != 1 {
		t.Fatalf("UnshareVariables = %d, %v; want 1 value hidden", n, err)
	}
	if got := query(t, db, `SELECT count(*) FROM collected_variable_values WHERE shared`); got[0][0] != "2" {
		t.Errorf("%s shared values after unsharing slot, want 2", got[0][0])
	}
}

func TestViews_SyncHealth(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	tx, err := storetest.PoolOf(db).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// now() is the transaction's start time in every statement below, so ages are exact.
	for _, sql := range []string{
		`INSERT INTO sync_queue (call_id, state, next_attempt_at, updated_at) VALUES
			('p1', 'pending', now() - interval '90 seconds', now()),
			('p2', 'pending', now() - interval '30 seconds', now()),
			('p3', 'pending', now() + interval '1 hour', now()),
			('r1', 'running', now(), now()),
			('d1', 'done', now(), now()), ('d2', 'done', now(), now()), ('d3', 'done', now(), now()),
			('f1', 'failed', now(), now() - interval '1 hour'),
			('f2', 'failed', now(), now() - interval '25 hours')`,
		`INSERT INTO sync_runs (worker, command, started_at, finished_at, claimed, synced, unchanged, requeued,
			failed, lost, rescued, api_requests, api_rate_limited, error) VALUES
			('w', 'run', now() - interval '121 minutes', now() - interval '2 hours', 1, 1, 0, 0, 0, 0, 0, 1, 0, NULL),
			('w', 'run', now() - interval '61 minutes', now() - interval '1 hour', 0, 0, 0, 0, 0, 0, 0, 0, 0, 'db down'),
			('w', 'run', now() - interval '31 hours', now() - interval '30 hours', 0, 0, 0, 0, 0, 0, 0, 0, 0, 'old')`,
		`INSERT INTO api_limits (key, tokens, paused_until) VALUES
			('k1', 0, now() + interval '30 seconds'), ('k2', 0, now() - interval '10 seconds'), ('k3', 1, NULL)`,
	} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var got [13]bool
	err = tx.QueryRow(ctx, `SELECT pending = 3, running = 1, done = 3, failed = 2, due = 2,
		oldest_due_at = now() - interval '90 seconds', oldest_due_age_seconds = 90, failed_last_24h = 1,
		last_pass_at = now() - interval '1 hour', last_successful_pass_at = now() - interval '2 hours',
		failed_passes_last_24h = 1, api_paused_until = now() + interval '30 seconds', checked_at = now()
		FROM sync_health`).Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5], &got[6], &got[7], &got[8],
		&got[9], &got[10], &got[11], &got[12])
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"pending", "running", "done", "failed", "due", "oldest_due_at", "oldest_due_age_seconds",
		"failed_last_24h", "last_pass_at", "last_successful_pass_at", "failed_passes_last_24h", "api_paused_until", "checked_at"}
	for i, ok := range got {
		if !ok {
			t.Errorf("sync_health.%s is not the expected value", names[i])
		}
	}
}

func TestViews_SyncHealth_Empty(t *testing.T) {
	db := testDB(t)
	got := query(t, db, `SELECT pending, running, done, failed, due, oldest_due_at, oldest_due_age_seconds, failed_last_24h,
		last_pass_at, last_successful_pass_at, failed_passes_last_24h, api_paused_until FROM sync_health`)
	want := [][]string{{"0", "0", "0", "0", "0", "NULL", "0", "0", "NULL", "NULL", "0", "NULL"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sync_health on an empty database (-want +got):\n%s", diff)
	}
}

func TestReports_Run(t *testing.T) {
	db := viewsFixture(t)
	for _, r := range report.Reports {
		tab, err := report.Query(t.Context(), db, r.SQL)
		if err != nil {
			t.Errorf("report %q: %v", r.Title, err)
			continue
		}
		if strings.Contains(r.SQL, "FROM   daily_call_stats") && len(tab.Rows) != 4 {
			t.Errorf("report %q: %d rows, want the fixture's 4 days and agents", r.Title, len(tab.Rows))
		}
	}
}
