package apitest_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/callsync/callsync/api/apitest"
)

func TestGenerate_Deterministic(t *testing.T) {
	a := apitest.Generate(apitest.GenerateOptions{Seed: 7, Calls: 300})
	b := apitest.Generate(apitest.GenerateOptions{Seed: 7, Calls: 300})
	prefix := apitest.Generate(apitest.GenerateOptions{Seed: 7, Calls: 50})
	other := apitest.Generate(apitest.GenerateOptions{Seed: 8, Calls: 300})
	same := 0
	for i := range a {
		if !bytes.Equal(a[i].GetJSON(), b[i].GetJSON()) || !bytes.Equal(a[i].ListJSON(), b[i].ListJSON()) {
			t.Fatalf("call %d differs between runs with the same seed", i)
		}
		if i < len(prefix) && !bytes.Equal(a[i].GetJSON(), prefix[i].GetJSON()) {
			t.Fatalf("call %d depends on the number of calls", i)
		}
		if bytes.Equal(a[i].GetJSON(), other[i].GetJSON()) {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("%d calls identical across seeds", same)
	}
}

func TestGenerate_Shape(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(7 * 24 * time.Hour)
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 1000, Models: 5, From: from, To: to})
	ids, models := map[string]bool{}, map[string]bool{}
	size, lines := 0, 0
	for _, c := range calls {
		if ids[c.ID()] {
			t.Fatalf("duplicate ID %s", c.ID())
		}
		ids[c.ID()] = true
		models[c.ModelID()] = true
		if c.Start().Before(from) || !c.Start().Before(to) {
			t.Fatalf("call %s starts %v, outside the range", c.ID(), c.Start())
		}
		size += len(c.GetJSON())
		lines += len(transcriptLines(t, c))
	}
	if len(models) != 5 {
		t.Errorf("models = %d, want 5", len(models))
	}
	if avg := size / len(calls); avg < 3000 || avg > 4000 {
		t.Errorf("average get-one JSON = %d bytes, want about 3.5 KB", avg)
	}
	if avg := float64(lines) / float64(len(calls)); avg < 25 || avg > 35 {
		t.Errorf("average transcript = %.1f lines, want about 30", avg)
	}
	t.Logf("average %d bytes, %.1f lines", size/len(calls), float64(lines)/float64(len(calls)))
}

// transcriptLines returns the call's non-blank transcript lines.
func transcriptLines(t testing.TB, c apitest.Call) []string {
	raw, _ := c.Field("transcript")
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("transcript of %s: %v", c.ID(), err)
	}
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

var (
	bubbleRE = regexp.MustCompile(`^\d{13}x\d{18}$`)
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestGenerate_Variations(t *testing.T) {
	saw := map[string]int{}
	mark := func(cond bool, name string) {
		if cond {
			saw[name]++
		}
	}
	kind := func(raw json.RawMessage) string {
		switch {
		case len(raw) == 0:
			return "absent"
		case string(raw) == "null":
			return "null"
		case string(raw) == "{}":
			return "{}"
		case raw[0] == '"':
			return "string"
		case raw[0] == '{':
			return "object"
		case raw[0] == '[':
			return "array"
		case raw[0] == 't' || raw[0] == 'f':
			return "bool"
		}
		return "number"
	}
	for _, c := range apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 1000}) {
		g, l := keys(t, c.GetJSON()), keys(t, c.ListJSON())
		str := func(k string) (s string) { _ = json.Unmarshal(g[k], &s); return s }
		mark(bubbleRE.MatchString(c.ID()), "id bubble")
		mark(uuidRE.MatchString(c.ID()), "id uuid")
		mark(bubbleRE.MatchString(c.ModelID()), "model bubble")
		mark(uuidRE.MatchString(c.ModelID()), "model uuid")
		mark(kind(g["duration"]) == "number", "duration number")
		mark(kind(g["duration"]) == "string", "duration string")
		mark(kind(g["start_time"]) == "string", "start_time string")
		mark(kind(g["start_time"]) == "number", "start_time number")
		for _, k := range []string{"telephony_start", "telephony_end"} {
			mark(kind(g[k]) == "string" && len(str(k)) == 19, k+" naive ISO")
			mark(kind(g[k]) == "{}", k+" {}")
			mark(kind(g[k]) == "null", k+" null")
		}
		markCollected(t, g["collected_variables"], mark)
		lines := transcriptLines(t, c)
		tr := str("transcript")
		mark(tr == "", "transcript empty")
		mark(len(lines) >= 150, "transcript long")
		mark(strings.HasPrefix(tr, "\n"), "transcript leading newline")
		mark(strings.Contains(tr, "\r\n"), "transcript CRLF")
		for _, line := range lines {
			sp, _, _ := strings.Cut(line, ": ")
			mark(sp == "bot" || sp == "human" || sp == "assistant", "speaker "+sp)
			mark(!strings.Contains(line, ": ") || (sp != "bot" && sp != "human" && sp != "assistant"), "continuation line")
		}
		for _, r := range tr {
			mark(r >= 0xC0 && r <= 0x17F, "accents")
			mark(unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana), "CJK")
			mark(r >= 0x1F300 || (r >= 0x2600 && r <= 0x27BF), "emoji")
		}
		mark(true, "status "+str("status"))
		mark(kind(g["executed_actions"]) == "{}", "executed_actions {}")
		if kind(g["executed_actions"]) == "object" {
			var acts map[string]map[string]any
			_ = json.Unmarshal(g["executed_actions"], &acts)
			for _, a := range acts {
				s, ok := a["parameters_hard_coded"].(string)
				r, ok2 := a["return_value"].(string)
				mark(ok && ok2 && json.Valid([]byte(s)) && json.Valid([]byte(r)), "executed_actions JSON-encoded strings")
			}
		}
		mark(kind(g["recording_url"]) == "string", "recording_url string")
		mark(kind(g["recording_url"]) == "null", "recording_url null")
		mark(string(g["error_message"]) == `""`, "error_message empty")
		mark(kind(g["error_message"]) == "string" && str("error_message") != "", "error_message text")
		mark(kind(g["prompt_variables"]) == "{}", "prompt_variables {}")
		mark(kind(g["prompt_variables"]) == "object", "prompt_variables set")
		custom := kind(g["custom_end_call_reason"]) == "string"
		mark(custom, "custom_end_call_reason")
		if custom != (str("end_call_reason") == "custom_end_call") {
			t.Fatalf("call %s: custom_end_call_reason without custom_end_call or the reverse", c.ID())
		}
		// List-only fields.
		mark(kind(l["call_status"]) == "string", "list call_status")
		mark(kind(l["judge_results"]) == "null", "judge_results null")
		mark(kind(l["judge_results"]) == "{}", "judge_results {}")
		if kind(l["judge_results"]) == "object" {
			var jr map[string]any
			_ = json.Unmarshal(l["judge_results"], &jr)
			allStrings := true
			for _, v := range jr {
				_, ok := v.(string)
				allStrings = allStrings && ok
			}
			mark(allStrings, "judge_results string values")
		}
		mark(string(l["labels"]) != "[]", "labels set")
		mark(string(l["agents_used"]) != "[]", "agents_used set")
		mark(kind(l["recording_duration"]) == "string", "recording_duration string")
		mark(kind(l["recording_duration"]) == "null", "recording_duration null")
		mark(kind(l["telephony_sip_headers"]) == "object", "telephony_sip_headers")
		mark(kind(l["lead_name"]) == "null", "lead_name null")
		mark(kind(l["lead_phone_number"]) == "string" && kind(l["agent_phone_number"]) == "string", "lead/agent phone")
		mark(kind(l["deployment_type"]) == "string", "deployment_type")
	}
	want := []string{"id bubble", "id uuid", "model bubble", "model uuid", "duration number", "duration string",
		"start_time string", "start_time number", "collected null", "collected {}", "collected one level",
		"collected two levels", "value string", "value number", "value bool", "value null", "value object",
		"collected false", "transcript empty", "transcript long", "transcript leading newline", "transcript CRLF",
		"speaker bot", "speaker human", "speaker assistant", "continuation line", "accents", "CJK", "emoji",
		"executed_actions {}", "executed_actions JSON-encoded strings", "recording_url string", "recording_url null",
		"error_message empty", "error_message text", "prompt_variables {}", "prompt_variables set",
		"custom_end_call_reason", "list call_status", "judge_results null", "judge_results {}",
		"judge_results string values", "labels set", "agents_used set", "recording_duration string",
		"recording_duration null", "telephony_sip_headers", "lead_name null", "lead/agent phone", "deployment_type"}
	for _, k := range []string{"telephony_start", "telephony_end"} {
		want = append(want, k+" naive ISO", k+" {}", k+" null")
	}
	for _, s := range []string{"completed", "failed", "no-answer", "busy", "hangup_on_voicemail", "left_voicemail",
		"canceled", "in-progress", "queue"} {
		want = append(want, "status "+s)
	}
	for _, w := range want {
		if saw[w] == 0 {
			t.Errorf("variation %q never generated", w)
		}
	}
	if saw["status completed"] < 600 {
		t.Errorf("completed = %d of 1000, want most", saw["status completed"])
	}
}

// markCollected classifies collected_variables: null, {}, one level or two
// levels, and the JSON types of the values.
func markCollected(t *testing.T, raw json.RawMessage, mark func(bool, string)) {
	t.Helper()
	mark(string(raw) == "null", "collected null")
	mark(string(raw) == "{}", "collected {}")
	var top map[string]map[string]json.RawMessage
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &top) != nil || len(top) == 0 {
		return
	}
	for _, child := range top {
		leaves := []map[string]json.RawMessage{child}
		if _, ok := child["collected"]; ok {
			mark(true, "collected one level")
		} else {
			mark(true, "collected two levels")
			leaves = nil
			for _, v := range child {
				var leaf map[string]json.RawMessage
				_ = json.Unmarshal(v, &leaf)
				leaves = append(leaves, leaf)
			}
		}
		for _, leaf := range leaves {
			v := leaf["value"]
			mark(string(leaf["collected"]) == "false", "collected false")
			switch {
			case string(v) == "null":
				mark(true, "value null")
			case v[0] == '"':
				mark(true, "value string")
			case v[0] == '{':
				mark(true, "value object")
			case v[0] == 't' || v[0] == 'f':
				mark(true, "value bool")
			default:
				mark(true, "value number")
			}
		}
	}
}

func TestCall_WithAndWithout(t *testing.T) {
	c := apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 1})[0]
	odd := "k\"e\\y\n\t\x01\u2028é通😊"
	c2, err := c.With(odd, "v\"\\\n\x00\u2029")
	if err != nil {
		t.Fatal(err)
	}
	c2, err = c2.With("call_status", "failed")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{c2.GetJSON(), c2.ListJSON()} {
		m := keys(t, raw)
		var v string
		if err := json.Unmarshal(m[odd], &v); err != nil || v != "v\"\\\n\x00\u2029" {
			t.Fatalf("odd field did not round-trip: %q %v", v, err)
		}
	}
	if got := string(keys(t, c2.GetJSON())["status"]); got != `"failed"` {
		t.Fatalf("status = %s, want failed", got)
	}
	c3 := c2.Without("transcript", "call_status", "call_id")
	g := keys(t, c3.GetJSON())
	if _, ok := g["transcript"]; ok {
		t.Fatal("Without left transcript")
	}
	if _, ok := g["status"]; ok {
		t.Fatal("Without(call_status) left status")
	}
	if c3.ID() != c.ID() {
		t.Fatalf("Without(call_id) changed ID to %q", c3.ID())
	}
	if _, err := c.With("call_id", 12); err == nil {
		t.Fatal("With(call_id, 12): no error")
	}
	if v, ok := c.Field("call_status"); !ok || !json.Valid(v) {
		t.Fatalf("Field(call_status) = %s %v", v, ok)
	}
}
