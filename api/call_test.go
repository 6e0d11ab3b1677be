package api_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/api"
)

func officialCall(t *testing.T) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/get-call.json")
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Response struct {
			Calls []json.RawMessage `json:"calls"`
		} `json:"response"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	return env.Response.Calls[0]
}

func TestDecodeCall_OfficialExample(t *testing.T) {
	c, err := api.DecodeCall(officialCall(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ID, "1725527007259x327898249603432960"; got != want {
		t.Errorf("ID = %q, want %q", got, want)
	}
	if got, want := *c.Status, "completed"; got != want {
		t.Errorf("Status = %q, want %q", got, want)
	}
	if got, want := *c.StartTime, time.Date(2024, 7, 29, 13, 41, 55, 0, time.UTC); !got.Equal(want) {
		t.Errorf("StartTime = %v, want %v", got, want)
	}
	if got, want := *c.DurationSeconds, int64(108); got != want {
		t.Errorf("DurationSeconds = %d, want %d", got, want)
	}
	if c.TelephonyStart != nil || c.TelephonyEnd != nil {
		t.Errorf("telephony start/end = %v/%v, want nil for {}", c.TelephonyStart, c.TelephonyEnd)
	}
	if got, want := *c.TelephonyDurationMS, int64(66000); got != want {
		t.Errorf("TelephonyDurationMS = %d, want %d", got, want)
	}
	if got, want := *c.TelephonyRingingMS, int64(15000); got != want {
		t.Errorf("TelephonyRingingMS = %d, want %d", got, want)
	}
	want := []api.Variable{
		{AgentID: "agent_123", Name: "appointment_date", Value: json.RawMessage(`{}`), Collected: new(true)},
		{AgentID: "agent_123", Name: "user_name", Value: json.RawMessage(`"Julian"`), Collected: new(true)},
	}
	if diff := cmp.Diff(want, c.CollectedVariables); diff != "" {
		t.Errorf("CollectedVariables (-want +got):\n%s", diff)
	}
	if len(c.Problems) != 0 {
		t.Errorf("Problems = %q, want none", c.Problems)
	}
	if string(c.Raw) != string(officialCall(t)) {
		t.Error("Raw is not the call object as received")
	}
}

func TestDecodeCall_Variations(t *testing.T) {
	ms := time.Date(2025, 10, 22, 16, 22, 57, 868e6, time.UTC)
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, c *api.Call)
	}{
		{"StatusFromCallStatus", `{"call_status":"no-answer"}`, func(t *testing.T, c *api.Call) {
			eq(t, "Status", *c.Status, "no-answer")
		}},
		{"StatusWinsOverCallStatus", `{"status":"completed","call_status":"in-progress"}`, func(t *testing.T, c *api.Call) {
			eq(t, "Status", *c.Status, "completed")
		}},
		{"NullStatusFallsBack", `{"status":null,"call_status":"busy"}`, func(t *testing.T, c *api.Call) {
			eq(t, "Status", *c.Status, "busy")
		}},
		{"StartTimeDigitString", `{"start_time":"1761150177868"}`, func(t *testing.T, c *api.Call) {
			eq(t, "StartTime", *c.StartTime, ms)
		}},
		{"StartTimeNumber", `{"start_time":1761150177868}`, func(t *testing.T, c *api.Call) {
			eq(t, "StartTime", *c.StartTime, ms)
		}},
		{"StartTimeSeconds", `{"start_time":1761150177}`, func(t *testing.T, c *api.Call) {
			eq(t, "StartTime", *c.StartTime, ms.Truncate(time.Second))
		}},
		{"StartTimeISOWithOffset", `{"start_time":"2025-10-22T18:22:57.868+02:00"}`, func(t *testing.T, c *api.Call) {
			eq(t, "StartTime", *c.StartTime, ms)
		}},
		{"StartTimeGarbage", `{"start_time":"yesterday","duration":5}`, func(t *testing.T, c *api.Call) {
			if c.StartTime != nil {
				t.Errorf("StartTime = %v, want nil", c.StartTime)
			}
			eq(t, "DurationSeconds", *c.DurationSeconds, int64(5))
			problem(t, c, "start_time")
		}},
		{"DurationNumericString", `{"duration":"25"}`, func(t *testing.T, c *api.Call) {
			eq(t, "DurationSeconds", *c.DurationSeconds, int64(25))
		}},
		{"DurationFloat", `{"duration":25.6}`, func(t *testing.T, c *api.Call) {
			eq(t, "DurationSeconds", *c.DurationSeconds, int64(26))
		}},
		{"DurationEmptyString", `{"duration":""}`, func(t *testing.T, c *api.Call) {
			if c.DurationSeconds != nil {
				t.Errorf("DurationSeconds = %v, want nil", *c.DurationSeconds)
			}
		}},
		{"DurationGarbage", `{"duration":"long"}`, func(t *testing.T, c *api.Call) {
			if c.DurationSeconds != nil {
				t.Errorf("DurationSeconds = %v, want nil", *c.DurationSeconds)
			}
			problem(t, c, "duration")
		}},
		{"NumberWhereStringExpected", `{"model_id":12345,"name":true}`, func(t *testing.T, c *api.Call) {
			eq(t, "ModelID", *c.ModelID, "12345")
			eq(t, "Name", *c.Name, "true")
		}},
		{"ObjectWhereStringExpected", `{"timezone":{"x":1}}`, func(t *testing.T, c *api.Call) {
			if c.Timezone != nil {
				t.Errorf("Timezone = %q, want nil", *c.Timezone)
			}
			problem(t, c, "timezone")
		}},
		{"TelephonyNaiveISOIsUTC", `{"telephony_start":"2026-04-22T16:49:29","telephony_end":"2026-04-22T16:50:01.5"}`, func(t *testing.T, c *api.Call) {
			eq(t, "TelephonyStart", *c.TelephonyStart, time.Date(2026, 4, 22, 16, 49, 29, 0, time.UTC))
			eq(t, "TelephonyEnd", *c.TelephonyEnd, time.Date(2026, 4, 22, 16, 50, 1, 5e8, time.UTC))
		}},
		{"TelephonyObjectAndNull", `{"telephony_start":{},"telephony_end":null}`, func(t *testing.T, c *api.Call) {
			if c.TelephonyStart != nil || c.TelephonyEnd != nil {
				t.Error("want nil telephony times")
			}
			if len(c.Problems) != 0 {
				t.Errorf("Problems = %q, want none", c.Problems)
			}
		}},
		{"VariablesNull", `{"collected_variables":null}`, func(t *testing.T, c *api.Call) {
			if c.CollectedVariables != nil {
				t.Errorf("CollectedVariables = %v, want nil", c.CollectedVariables)
			}
		}},
		{"VariablesOneLevel", `{"collected_variables":{"city":{"value":"Oslo","collected":true},"age":{"value":null,"collected":false}}}`, func(t *testing.T, c *api.Call) {
			want := []api.Variable{
				{Name: "age", Value: json.RawMessage(`null`), Collected: new(false)},
				{Name: "city", Value: json.RawMessage(`"Oslo"`), Collected: new(true)},
			}
			if diff := cmp.Diff(want, c.CollectedVariables); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"VariablesAnyValue", `{"collected_variables":{"a1":{"n":{"value":3.5},"b":{"value":false,"collected":"true"},"o":{"value":{"k":[1,2]},"collected":true}}}}`, func(t *testing.T, c *api.Call) {
			want := []api.Variable{
				{AgentID: "a1", Name: "b", Value: json.RawMessage(`false`), Collected: new(true)},
				{AgentID: "a1", Name: "n", Value: json.RawMessage(`3.5`)},
				{AgentID: "a1", Name: "o", Value: json.RawMessage(`{"k":[1,2]}`), Collected: new(true)},
			}
			if diff := cmp.Diff(want, c.CollectedVariables); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"VariablesBareValue", `{"collected_variables":{"x":"plain"}}`, func(t *testing.T, c *api.Call) {
			want := []api.Variable{{Name: "x", Value: json.RawMessage(`"plain"`)}}
			if diff := cmp.Diff(want, c.CollectedVariables); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"VariablesNotObject", `{"collected_variables":[1,2]}`, func(t *testing.T, c *api.Call) {
			if c.CollectedVariables != nil {
				t.Errorf("CollectedVariables = %v, want nil", c.CollectedVariables)
			}
			problem(t, c, "collected_variables")
		}},
		{"UnknownFieldsKeptInRaw", `{"call_id":"x","judge_results":{"goal":"true"}}`, func(t *testing.T, c *api.Call) {
			if !strings.Contains(string(c.Raw), "judge_results") {
				t.Errorf("Raw = %s, want judge_results kept", c.Raw)
			}
		}},
		{"ExecutedActionsArray", `{"executed_actions":[{"name":"a"}]}`, func(t *testing.T, c *api.Call) {
			eq(t, "ExecutedActions", string(c.ExecutedActions), `[{"name":"a"}]`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := api.DecodeCall(json.RawMessage(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestDecodeCall_NotAnObject(t *testing.T) {
	for _, in := range []string{`[]`, `"x"`, `null`, `{`, ``} {
		if _, err := api.DecodeCall(json.RawMessage(in)); err == nil {
			t.Errorf("DecodeCall(%q) = nil error, want one", in)
		}
	}
}

func eq[T comparable](t *testing.T, name string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func problem(t *testing.T, c *api.Call, field string) {
	t.Helper()
	for _, p := range c.Problems {
		if strings.HasPrefix(p, field+":") {
			return
		}
	}
	t.Errorf("Problems = %q, want one about %s", c.Problems, field)
}

func FuzzDecodeCall(f *testing.F) {
	f.Add([]byte(`{"call_id":"a","duration":"25","start_time":"1761150177868","collected_variables":{"a":{"b":{"value":1,"collected":true}}}}`))
	f.Add([]byte(`{"telephony_start":{},"telephony_end":"2026-04-22T16:49:29","status":null,"call_status":"busy"}`))
	f.Add([]byte(`{"transcript":"\u0000bot: hi","duration":1e400}`))
	f.Add([]byte(`{"executed_actions":{"info_extractor_a":{"return_value":"{\"status\": \"x\"}","timestamp":"1761474849.63"}},"judge_results":{"goal":"True","goal_feedback":""}}`))
	f.Add([]byte(`{"executed_actions":["{\"name\": \"b\"}",3,null],"judge_results":"{}","labels":["a"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := api.DecodeCall(b)
		if err != nil {
			return
		}
		if c.DurationSeconds != nil && *c.DurationSeconds > 1<<62 {
			t.Errorf("duration %d out of range", *c.DurationSeconds)
		}
		for _, a := range c.Actions {
			for _, v := range []json.RawMessage{a.Raw, a.ParametersHardCoded, a.ParametersFromLLM, a.ReturnValue} {
				if v != nil && !json.Valid(v) {
					t.Errorf("action %q holds %q, not JSON", a.Key, v)
				}
			}
		}
		for _, v := range c.CollectedVariables {
			if !json.Valid(v.Value) {
				t.Errorf("variable %q value %q is not JSON", v.Name, v.Value)
			}
		}
	})
}
