package sync_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// hostileCall is raw call JSON for id: a completed call with the fields
// given as raw JSON added (or replacing the defaults).
func hostileCall(id string, fields ...string) string {
	base := map[string]string{
		"call_id":    jsonString(id),
		"status":     `"completed"`,
		"model_id":   `"model-hostile"`,
		"start_time": `"1764150000000"`,
		"duration":   `42`,
	}
	for i := 0; i+1 < len(fields); i += 2 {
		base[fields[i]] = fields[i+1]
	}
	parts := make([]string, 0, len(base))
	for k, v := range base {
		parts = append(parts, fmt.Sprintf("%q:%s", k, v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// envelope wraps a call object in the GET /v2/calls/{id} response body.
func envelope(call string) string {
	return `{"status":"ok","response":{"calls":[` + call + `]}}`
}

// nested returns a JSON array nested depth levels deep around "x".
func nested(depth int) string {
	return strings.Repeat("[", depth) + `"x"` + strings.Repeat("]", depth)
}

// TestSyncer_HostileInput syncs, in one batch, calls whose bodies hold what
// Postgres or the decoder could choke on, beside ordinary calls. Each is
// stored, cleaned and said so in the log, or refused with a reason on its
// queue row; the pass never fails and the ordinary calls are stored.
func TestSyncer_HostileInput(t *testing.T) {
	normal := apitest.Generate(apitest.GenerateOptions{Seed: 21, Calls: 5})
	for i, c := range normal {
		normal[i], _ = c.With("status", "completed")
	}
	h := newHarness(t, normal)

	var longTranscript strings.Builder
	for i := 1; i <= 10000; i++ {
		speaker := "bot"
		if i%2 == 0 {
			speaker = "human"
		}
		fmt.Fprintf(&longTranscript, "%s: line %d\n", speaker, i)
	}
	const (
		nulID, utf8ID, wrongID, longID  = "hostile-nul", "hostile-utf8", "hostile-types", "hostile-long"
		deepID, deeperID, hugeID, numID = "hostile-deep", "hostile-deep-10000", "hostile-20mb", "hostile-number"
	)
	served := map[string]string{
		nulID: hostileCall(nulID,
			"name", `"An\u0000na"`,
			"transcript", `"bot: Hel\u0000lo\nhuman: Hi\u0000 there"`,
			"executed_actions", `{"k\u0000":"v\u0000"}`,
			"collected_variables", `{"agent_1":{"user_na\u0000me":{"value":"x\u0000y","collected":true}}}`),
		utf8ID: hostileCall(utf8ID,
			"name", "\"Bad\xffName\"",
			"transcript", "\"bot: caf\xe9 ol\xc3\"",
			"prompt_variables", `{"lone":"\ud800x"}`),
		wrongID: hostileCall(wrongID,
			"name", `12345`,
			"phone_number_from", `15551234567`,
			"model_id", `true`,
			"duration", `"abc"`,
			"start_time", `"yesterday"`,
			"telephony_duration", `{"ms":5}`,
			"telephony_ringing_duration", `"15000"`,
			"collected_variables", `"oops"`,
			"executed_actions", `"not an object"`),
		longID: hostileCall(longID, "transcript", jsonString(longTranscript.String())),
		deepID: hostileCall(deepID, "executed_actions", nested(9000)),
		numID:  hostileCall(numID, "executed_actions", `{"n":1e1000000}`),
	}
	for id, body := range served {
		if _, err := h.api.AddJSON([]byte(body)); err != nil {
			t.Fatalf("serve %s: %v", id, err)
		}
	}
	// Bodies the fake API cannot parse (too deep) or need not hold (20 MB)
	// are scripted.
	h.api.Script(deeperID, apitest.Step{Status: 200, Body: envelope(hostileCall(deeperID, "executed_actions", nested(10000)))})
	huge := envelope(hostileCall(hugeID, "transcript", jsonString("bot: "+strings.Repeat("a", 20<<20))))
	h.api.Script(hugeID, apitest.Step{Status: 200, Body: huge})

	all := append(ids(normal), nulID, utf8ID, wrongID, longID, deepID, deeperID, hugeID, numID)
	h.enqueue(all...)
	st, err := h.syncer(callsync.Config{}).RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce = %v, want the pass to survive every body", err)
	}
	if st.Claimed != len(all) {
		t.Fatalf("Stats = %+v, want all %d claimed", st, len(all))
	}
	q := h.queue()
	logs := h.logs.String()
	// logged reports whether one log line names the call and says want.
	logged := func(id, want string) bool {
		for line := range strings.Lines(logs) {
			if strings.Contains(line, "call_id="+id) && strings.Contains(line, want) {
				return true
			}
		}
		return false
	}
	text := func(sql string, args ...any) string {
		t.Helper()
		var s *string
		if err := storetest.PoolOf(h.db).QueryRow(t.Context(), sql, args...).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if s == nil {
			return "<NULL>"
		}
		return *s
	}
	stored := func(t *testing.T, id string) {
		t.Helper()
		if r := q[id]; r.State != "done" || r.Error != "" {
			t.Fatalf("queue row = %+v, want done", r)
		}
		if h.count(`SELECT count(*) FROM calls WHERE call_id = $1`, id) != 1 {
			t.Fatal("call not stored")
		}
	}

	t.Run("OrdinaryCallsInTheBatchStored", func(t *testing.T) {
		for _, c := range normal {
			stored(t, c.ID())
		}
	})
	t.Run("NULRemoved", func(t *testing.T) {
		stored(t, nulID)
		if got := text(`SELECT name FROM calls WHERE call_id = $1`, nulID); got != "Anna" {
			t.Errorf("name = %q, want %q", got, "Anna")
		}
		if got := text(`SELECT string_agg(speaker || '|' || text, ';' ORDER BY line_no) FROM transcript_lines WHERE call_id = $1`, nulID); got != "bot|Hello;human|Hi there" {
			t.Errorf("transcript = %q", got)
		}
		if got := text(`SELECT executed_actions::text FROM calls WHERE call_id = $1`, nulID); got != `{"k": "v"}` {
			t.Errorf("executed_actions = %s", got)
		}
		if got := text(`SELECT name || '=' || value::text FROM collected_variables WHERE call_id = $1`, nulID); got != `user_name="xy"` {
			t.Errorf("collected variable = %s", got)
		}
		if got := text(`SELECT raw->>'name' FROM calls WHERE call_id = $1`, nulID); got != "Anna" {
			t.Errorf("raw name = %q", got)
		}
		if !logged(nulID, "call stored with changes") || !logged(nulID, "removed NUL characters") {
			t.Errorf("no log line says the NULs were removed:\n%s", logs)
		}
	})
	t.Run("InvalidUTF8Replaced", func(t *testing.T) {
		stored(t, utf8ID)
		if got := text(`SELECT name FROM calls WHERE call_id = $1`, utf8ID); got != "Bad\uFFFDName" {
			t.Errorf("name = %q", got)
		}
		if got := text(`SELECT text FROM transcript_lines WHERE call_id = $1`, utf8ID); got != "caf\uFFFD ol\uFFFD" {
			t.Errorf("transcript text = %q", got)
		}
		if got := text(`SELECT raw->>'name' FROM calls WHERE call_id = $1`, utf8ID); got != "Bad\uFFFDName" {
			t.Errorf("raw name = %q", got)
		}
		if got := text(`SELECT prompt_variables->>'lone' FROM calls WHERE call_id = $1`, utf8ID); got != "\uFFFDx" {
			t.Errorf("lone surrogate stored as %q, want U+FFFD", got)
		}
		if !logged(utf8ID, "replaced invalid UTF-8") {
			t.Errorf("no log line says invalid UTF-8 was replaced:\n%s", logs)
		}
	})
	t.Run("WrongTypesStoredAsFarAsReadable", func(t *testing.T) {
		stored(t, wrongID)
		var name, from, model, started, duration, ringing, telDuration, actions string
		err := storetest.PoolOf(h.db).QueryRow(t.Context(), `
			SELECT c.name, c.phone_number_from, c.model_id, coalesce(c.started_at::text, '<NULL>'),
			       coalesce(c.duration_seconds::text, '<NULL>'), coalesce(t.ringing_duration_ms::text, '<NULL>'),
			       coalesce(t.duration_ms::text, '<NULL>'), c.executed_actions::text
			FROM calls c LEFT JOIN call_telephony t USING (call_id) WHERE call_id = $1`, wrongID).
			Scan(&name, &from, &model, &started, &duration, &ringing, &telDuration, &actions)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{name, from, model, started, duration, ringing, telDuration, actions}
		want := []string{"12345", "15551234567", "true", "<NULL>", "<NULL>", "15000", "<NULL>", `"not an object"`}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stored %q, want %q", got, want)
		}
		if n := h.count(`SELECT count(*) FROM collected_variables WHERE call_id = $1`, wrongID); n != 0 {
			t.Errorf("%d collected variables from a string, want none", n)
		}
		for _, field := range []string{"duration: want a number", "start_time: want epoch milliseconds", "telephony_duration", "collected_variables: want an object"} {
			if !logged(wrongID, field) {
				t.Errorf("no log line names the unreadable field %q:\n%s", field, logs)
			}
		}
	})
	t.Run("TranscriptOf10000Lines", func(t *testing.T) {
		stored(t, longID)
		if n := h.count(`SELECT count(*) FROM transcript_lines WHERE call_id = $1 AND line_no BETWEEN 1 AND 10000`, longID); n != 10000 {
			t.Errorf("%d transcript lines, want 10000", n)
		}
		if got := text(`SELECT speaker || ': ' || text FROM transcript_lines WHERE call_id = $1 AND line_no = 10000`, longID); got != "human: line 10000" {
			t.Errorf("line 10000 = %q", got)
		}
	})
	t.Run("DeepJSONCut", func(t *testing.T) {
		stored(t, deepID)
		if got := text(`SELECT executed_actions::text FROM calls WHERE call_id = $1`, deepID); !strings.Contains(got, "[removed: nested more than 200 levels]") {
			t.Errorf("executed_actions = %.200s…, want the deep part replaced", got)
		}
		if got := text(`SELECT raw->>'call_id' FROM calls WHERE call_id = $1`, deepID); got != deepID {
			t.Errorf("raw call_id = %q", got)
		}
		if !logged(deepID, "nested deeper than 200 levels") {
			t.Errorf("no log line says deep JSON was cut:\n%s", logs)
		}
	})
	t.Run("JSONNested10000DeepRefused", func(t *testing.T) {
		r := q[deeperID]
		if r.State != "pending" || r.Attempts != 1 || !strings.Contains(r.Error, "decode response") || !strings.Contains(r.Error, "depth") {
			t.Errorf("queue row = %+v, want a retry with a decode error about the depth", r)
		}
		if !logged(deeperID, "call sync failed") {
			t.Errorf("no warning for the refused call:\n%s", logs)
		}
	})
	t.Run("BodyOver16MiBRefused", func(t *testing.T) {
		r := q[hugeID]
		want := fmt.Sprintf("body larger than %d bytes", api.DefaultMaxBodyBytes)
		if r.State != "pending" || r.Attempts != 1 || !strings.Contains(r.Error, want) {
			t.Errorf("queue row = %+v, want a retry whose error says %q", r, want)
		}
		if n := h.count(`SELECT octet_length(last_bad_body) FROM sync_queue WHERE call_id = $1`, hugeID); n != api.MaxKeptBody {
			t.Errorf("kept %d bytes of the body, want %d", n, api.MaxKeptBody)
		}
		if h.count(`SELECT count(*) FROM calls WHERE call_id = $1`, hugeID) != 0 {
			t.Error("a call was stored from a body over the cap")
		}
	})
	t.Run("NumberOutOfRangeRefusedByDatabase", func(t *testing.T) {
		r := q[numID]
		if r.State != "failed" || !strings.Contains(r.Error, "database refused") {
			t.Errorf("queue row = %+v, want failed with the database's reason", r)
		}
		if h.count(`SELECT count(*) FROM calls WHERE call_id = $1`, numID) != 0 {
			t.Error("the refused call was stored")
		}
	})
	if t.Failed() {
		t.Logf("stats: %+v\nlog:\n%.10000s", st, logs)
	}
}

// TestEnqueue_HostileCallIDs rejects malformed ids at enqueue, each with its
// reason, queues the rest once each, and shows that ids which reach the
// queue another way are still fetched safely: path-escaped, never read as
// a path or a query.
func TestEnqueue_HostileCallIDs(t *testing.T) {
	h := newHarness(t, nil)
	rejects := map[string]string{
		"a/b":                    `contains '/'`,
		"..":                     "is a path element",
		".":                      "is a path element",
		"x?y":                    `contains '?'`,
		"50%":                    `contains '%'`,
		"has space":              "white space",
		"ctl\x01":                "control character",
		"tab\tid":                "white space",
		"":                       "empty",
		"bad\xffutf":             "not valid UTF-8",
		strings.Repeat("x", 200): "more than 128",
	}
	in := []string{"ok-1", "ok-2", "ok-1"}
	for id := range rejects {
		in = append(in, id)
	}
	rep, err := callsync.Enqueue(t.Context(), h.db, in)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 2 || rep.Duplicates != 1 || len(rep.Rejected) != len(rejects) {
		t.Fatalf("report = %+v, want 2 added, 1 duplicate, %d rejected", rep, len(rejects))
	}
	for _, r := range rep.Rejected {
		if want := rejects[r.ID]; r.Reason == nil || !strings.Contains(r.Reason.Error(), want) {
			t.Errorf("%q rejected with %v, want a reason saying %q", r.ID, r.Reason, want)
		}
		if strings.ContainsAny(r.Reason.Error(), "\x00\x01\t\n") {
			t.Errorf("reason %q carries a raw control character", r.Reason)
		}
	}
	if n := h.count(`SELECT count(*) FROM sync_queue`); n != 2 {
		t.Errorf("%d rows queued, want 2", n)
	}

	// Ids that bypassed validation (queued by an older version, or by hand).
	odd := []string{"a/b", "..", "x?y=1&z", "50%", "has space", "ctl\x01", "ok-1"}
	for _, id := range odd {
		if _, err := h.api.AddJSON([]byte(hostileCall(id))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.db.Enqueue(t.Context(), odd); err != nil {
		t.Fatal(err)
	}
	st, err := h.syncer(callsync.Config{}).RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	q := h.queue()
	for _, id := range odd {
		if r := q[id]; r.State != "done" {
			t.Errorf("%q: queue row %+v, want done", id, r)
		}
		if n := h.api.Counters().CallServed(id); n != 1 {
			t.Errorf("%q served %d times, want 1: the id did not reach the API intact", id, n)
		}
	}
	if r := q["ok-2"]; r.State != "pending" || !strings.Contains(r.Error, "HTTP 404") {
		t.Errorf("ok-2 (not on the API) = %+v, want a not-found retry", r)
	}
	if st.Done != len(odd) {
		t.Errorf("Stats = %+v, want %d done", st, len(odd))
	}
}
