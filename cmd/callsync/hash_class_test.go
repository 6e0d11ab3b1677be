package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/api/apitest"
)

// hostileCall is a call object with phone numbers in every shape a payload
// can hold them, and fields that cannot be read (so that the worker notes
// changes) which quote a name and transcript words.
func hostileCall(id, model string, startMS int64) string {
	return fmt.Sprintf(`{
	"call_id": %q, "model_id": %q, "status": "completed",
	"start_time": "%d",
	"phone_number_to": 14155550101,
	"phone_number_from": "+14155550102",
	"lead_phone_number": "+14155550103",
	"name": "Zelda Quuxington",
	"transcript": "human: my number is four one five, call me Zelda Quuxington\nbot: noted",
	"duration": "Zelda Quuxington whispered secrets",
	"timezone": {"owner": "Zelda Quuxington"},
	"telephony_start": "Zelda Quuxington at dawn",
	"lead": {"phones": ["+14155550104", 14155550105], "Phone": {"mobile": "+14155550106", "home": 14155550107},
	         "contact": [{"phone_numbers": {"work": ["+14155550108"]}}]},
	"prompt_variables": {"customer_phone": 14155550109},
	"collected_variables": {"agent_1": {"callback_phone": {"value": "+14155550110", "collected": true},
	                                    "contact": {"value": {"mobile": 14155550111}, "collected": true}}},
	"executed_actions": {"info_extractor_x": {"name": "x", "action_type": "extract_info_action_type",
	   "parameters_from_llm": "{\"phone\": \"+14155550112\", \"note\": \"ok\"}",
	   "return_value": "{\"result\": {\"lead\": {\"MobilePhone\": 14155550113}}}"}},
	"telephony_sip_headers": {"From": "<sip:+14155550114@carrier>", "P-Asserted-Identity": "sip:+14155550115@x"}
}`, id, model, startMS)
}

// TestHashPhoneNumbers_EveryShape (issue 19.4): with hashing on, no phone
// number is stored in clear, whatever its JSON type or depth under a
// phone-like key (raw, prompt and collected variables, executed actions
// and the JSON they encode in strings), by the worker's fetch and by a
// backfill's list pages; and no log line quotes a value of the call.
func TestHashPhoneNumbers_EveryShape(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 94, Calls: 2, Models: 1})
	model := calls[0].ModelID()
	start := calls[0].Start().UnixMilli()
	var hostile []apitest.Call
	for _, id := range []string{"hostile-fetched", "hostile-listed"} {
		c, err := apitest.ParseCall([]byte(hostileCall(id, model, start)))
		if err != nil {
			t.Fatal(err)
		}
		hostile = append(hostile, c)
	}
	srv := fakeAPI(t, append(calls, hostile...)...)
	env := intakeEnv(t, srv)
	env["SYNC_HASH_PHONE_NUMBERS"] = "1"
	env["SYNC_HASH_KEY"] = "0123456789abcdef-test-key"
	env["LOG_LEVEL"] = "debug"
	dbURL := env["DATABASE_URL"]
	var out strings.Builder
	day := calls[0].Start().UTC().Format("2006-01-02")
	next := calls[0].Start().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for _, args := range [][]string{{"enqueue", "hostile-fetched"}, {"once"},
		{"backfill", "--all-models", "--from", day, "--to", next}} {
		r := runCmd(t, env, "", args...)
		if r.err != nil {
			t.Fatalf("%v: %v\n%s", args, r.err, r.stderr)
		}
		out.WriteString(r.stdout + r.stderr)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE call_id LIKE 'hostile-%'`); n != 2 {
		t.Fatalf("%d hostile calls stored, want 2", n)
	}
	if !strings.Contains(out.String(), "call stored with changes") {
		t.Fatalf("no call was noted as changed: the log check proves nothing\n%s", out.String())
	}
	stored := dumpTables(t, dbURL)
	for i := 101; i <= 115; i++ {
		number := fmt.Sprintf("4155550%d", i)
		if strings.Contains(stored, number) {
			at := strings.Index(stored, number)
			t.Errorf("number …%s stored in clear: %s", number, stored[max(0, at-200):min(len(stored), at+50)])
		}
		if strings.Contains(out.String(), number) {
			t.Errorf("number …%s in the output", number)
		}
	}
	for _, word := range []string{"Zelda", "Quuxington", "whispered", "dawn"} {
		if strings.Contains(out.String(), word) {
			at := strings.Index(out.String(), word)
			t.Errorf("call content %q in the output: %s", word, out.String()[max(0, at-300):min(out.Len(), at+50)])
		}
	}
}

// dumpTables returns every row of every table of the public schema, as
// text.
func dumpTables(t *testing.T, dbURL string) string {
	t.Helper()
	pool := mustPool(t, dbURL)
	tables, err := pool.Query(t.Context(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(tables, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range names {
		var rows string
		if err := pool.QueryRow(t.Context(), fmt.Sprintf(`SELECT coalesce(string_agg(t::text, E'\n'), '') FROM %s t`,
			pgx.Identifier{name}.Sanitize())).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		b.WriteString(name + ":\n" + rows + "\n")
	}
	return b.String()
}
