package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/api"
)

// decodeField decodes a call object holding one field.
func decodeField(t *testing.T, key, value string) *api.Call {
	t.Helper()
	c, err := api.DecodeCall(json.RawMessage(`{"call_id":"c1",` + `"` + key + `":` + value + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func str(s string) *string { return &s }

func js(v json.RawMessage) string {
	if v == nil {
		return "<nil>"
	}
	return string(v)
}

// The live shape (shared reference §5.2): inner fields JSON-encoded strings.
const liveEntry = `{
  "name": "extract_info_telefonocelular",
  "action_type": "extract_info_action_type",
  "description": "Get information with question: Extrae el telefono",
  "parameters_hard_coded": "{\"identifier\": \"telefonocelular\", \"choices\": null}",
  "parameters_from_llm": "{}",
  "error_message": "",
  "return_value": "{\"telefonocelular\": \"387506619\"}",
  "return_value_status": "", "is_relevant_action": "true",
  "timestamp_datetime": "2025-10-26T10:34:09.638940", "timestamp": "1761474849.63"
}`

func TestDecodeCall_ActionsLiveShape(t *testing.T) {
	c := decodeField(t, "executed_actions", `{"extract_info_telefonocelular":`+liveEntry+`}`)
	if len(c.Actions) != 1 {
		t.Fatalf("Actions = %d, want 1", len(c.Actions))
	}
	a := c.Actions[0]
	if a.Key != "extract_info_telefonocelular" || a.Kind != "info_extractor" || a.Identifier == nil || *a.Identifier != "telefonocelular" {
		t.Errorf("key/kind/identifier = %q %q %v", a.Key, a.Kind, a.Identifier)
	}
	if got, want := js(a.ReturnValue), `{"telefonocelular": "387506619"}`; got != want {
		t.Errorf("ReturnValue = %s, want %s", got, want)
	}
	if got, want := js(a.ParametersHardCoded), `{"identifier": "telefonocelular", "choices": null}`; got != want {
		t.Errorf("ParametersHardCoded = %s, want %s", got, want)
	}
	if got, want := js(a.ParametersFromLLM), `{}`; got != want {
		t.Errorf("ParametersFromLLM = %s, want %s", got, want)
	}
	if a.ErrorMessage != nil || a.Status != nil || a.Undecoded != nil {
		t.Errorf("ErrorMessage %v, Status %v, Undecoded %v: want all nil", a.ErrorMessage, a.Status, a.Undecoded)
	}
	if a.IsRelevant == nil || !*a.IsRelevant {
		t.Errorf("IsRelevant = %v, want true", a.IsRelevant)
	}
	if want := time.UnixMilli(1761474849630).UTC(); a.RanAt == nil || !a.RanAt.Equal(want) {
		t.Errorf("RanAt = %v, want %v", a.RanAt, want)
	}
	if len(c.Problems) != 0 {
		t.Errorf("Problems = %v", c.Problems)
	}
}

func TestDecodeCall_ActionsShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		want  []api.Action // compared on Key, Kind, Identifier, Status, ReturnValue, Undecoded, ErrorMessage
	}{
		{name: "Absent", value: `null`},
		{name: "EmptyObject", value: `{}`},
		{name: "EmptyArray", value: `[]`},
		{name: "EmptyString", value: `""`},
		{
			name: "DocsObjectShape", // legacy webhook example: inner objects
			value: `{"extract_info_1":{"name":"extract_info_1","action_type":"extract_info_action_type",
			  "parameters_hard_coded":{"identifier":"purchase","examples":["car","house"]},
			  "error_message":null,"return_value":{"purchase":"car"}}}`,
			want: []api.Action{{Key: "extract_info_1", Kind: "info_extractor", Identifier: str("1"),
				ReturnValue: json.RawMessage(`{"purchase":"car"}`)}},
		},
		{
			name: "BothPrefixesInOrder",
			value: `{"info_extractor_email address":{"action_type":"extract_info_action_type","return_value":"{}"},
			  "extract_info_zip":{"return_value":"{\"id\": null}"}}`,
			want: []api.Action{
				{Key: "info_extractor_email address", Kind: "info_extractor", Identifier: str("email address"), ReturnValue: json.RawMessage(`{}`)},
				{Key: "extract_info_zip", Kind: "info_extractor", Identifier: str("zip"), ReturnValue: json.RawMessage(`{"id": null}`)},
			},
		},
		{
			name: "ArrayWithFailedTransfer",
			value: `[{"name":"transfer_sales","action_type":"custom_function_action_type","error_message":null,
			  "return_value":"{\"status\": \"transfer-failed-timeout\"}"}, {"action_type":"LIVE_TRANSFER"}]`,
			want: []api.Action{
				{Key: "transfer_sales", Kind: "custom_function", Status: str("transfer-failed-timeout"),
					ReturnValue: json.RawMessage(`{"status": "transfer-failed-timeout"}`)},
				{Key: "#2", Kind: "live_transfer"},
			},
		},
		{
			name:  "StringThatIsNotJSONKeptAsText",
			value: `{"book":{"action_type":"custom_function_action_type","return_value":"booked for 3pm","error_message":"timeout","return_value_status":"error"}}`,
			want: []api.Action{{Key: "book", Kind: "custom_function", Status: str("error"), ErrorMessage: str("timeout"),
				ReturnValue: json.RawMessage(`"booked for 3pm"`), Undecoded: []string{"return_value"}}},
		},
		{
			name:  "ScalarReturnValue",
			value: `{"x":{"action_type":"custom_function_action_type","return_value":"42"}}`,
			want:  []api.Action{{Key: "x", Kind: "custom_function", ReturnValue: json.RawMessage(`42`)}},
		},
		{
			name:  "WholeFieldJSONEncoded",
			value: `"{\"info_extractor_a\": {\"return_value\": \"{\\\"a\\\": 1}\"}}"`,
			want:  []api.Action{{Key: "info_extractor_a", Kind: "info_extractor", Identifier: str("a"), ReturnValue: json.RawMessage(`{"a": 1}`)}},
		},
		{
			name:  "EntryJSONEncoded",
			value: `{"info_extractor_b":"{\"return_value\": {\"b\": 2}}"}`,
			want:  []api.Action{{Key: "info_extractor_b", Kind: "info_extractor", Identifier: str("b"), ReturnValue: json.RawMessage(`{"b": 2}`)}},
		},
		{
			name:  "UnknownEntryKept",
			value: `{"weird": 7, "plain": "not json", "nothing": null}`,
			want:  []api.Action{{Key: "weird", Kind: "unknown"}, {Key: "plain", Kind: "unknown"}, {Key: "nothing", Kind: "unknown"}},
		},
		{name: "UnknownFieldKept", value: `"free text"`, want: []api.Action{{Key: "#1", Kind: "unknown"}}},
		{name: "NumberFieldKept", value: `3`, want: []api.Action{{Key: "#1", Kind: "unknown"}}},
		{name: "NoType", value: `[{"name":"n"}]`, want: []api.Action{{Key: "n", Kind: "other"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := decodeField(t, "executed_actions", tc.value)
			var got []api.Action
			for _, a := range c.Actions {
				if len(a.Raw) == 0 {
					t.Errorf("action %q has no Raw", a.Key)
				}
				got = append(got, api.Action{Key: a.Key, Kind: a.Kind, Identifier: a.Identifier, Status: a.Status,
					ReturnValue: a.ReturnValue, Undecoded: a.Undecoded, ErrorMessage: a.ErrorMessage})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeCall_Judgements(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		want  []api.Judgement
	}{
		{name: "Null", value: `null`},
		{name: "Empty", value: `{}`},
		{name: "NotAnObject", value: `[1]`},
		{
			name: "LiveStrings",
			value: `{"answered_by_human":"True","answered_by_human_feedback":"","goal":"partial","goal_feedback":"Did not book",
			  "knowledge":"not_applicable","persona":"false","call_summary":"true","opted_in":null,"style":" TRUE ",
			  "judge_found_partial_or_error":"true","all_feedback":"Goal partly met","objections":"maybe"}`,
			want: []api.Judgement{
				{Criterion: "all", Feedback: str("Goal partly met")},
				{Criterion: "answered_by_human", Result: str("true"), Value: str("True"), Feedback: str("")},
				{Criterion: "call_summary", Result: str("true"), Value: str("true")},
				{Criterion: "goal", Result: str("partial"), Value: str("partial"), Feedback: str("Did not book")},
				{Criterion: "judge_found_partial_or_error", Result: str("true"), Value: str("true")},
				{Criterion: "knowledge", Result: str("not_applicable"), Value: str("not_applicable")},
				{Criterion: "objections", Value: str("maybe")},
				{Criterion: "opted_in"},
				{Criterion: "persona", Result: str("false"), Value: str("false")},
				{Criterion: "style", Result: str("true"), Value: str(" TRUE ")},
			},
		},
		{
			name:  "BooleansAndFeedbackWithoutValue",
			value: `{"goal":true,"steps":false,"persona_feedback":"too formal"}`,
			want: []api.Judgement{
				{Criterion: "goal", Result: str("true"), Value: str("true")},
				{Criterion: "persona", Feedback: str("too formal")},
				{Criterion: "steps", Result: str("false"), Value: str("false")},
			},
		},
		{
			name:  "JSONEncoded",
			value: `"{\"goal\": \"true\"}"`,
			want:  []api.Judgement{{Criterion: "goal", Result: str("true"), Value: str("true")}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := decodeField(t, "judge_results", tc.value)
			if diff := cmp.Diff(tc.want, c.Judgements); diff != "" {
				t.Errorf("Judgements (-want +got):\n%s", diff)
			}
			if got := api.DecodeJudgements(json.RawMessage(tc.value)); !cmp.Equal(got, tc.want) {
				t.Errorf("DecodeJudgements = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeCall_ListScalars(t *testing.T) {
	c, err := api.DecodeCall(json.RawMessage(`{"call_id":"c1","labels":["vip",null,3],"agents_used":[],
	  "assistant_version":"v7","lead_name":"Ana Ruiz","recording_duration":"31.5","deployment_type":"telephony",
	  "agent_phone_number":"+34910000000"}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"vip", "3"}, c.Labels); diff != "" {
		t.Errorf("Labels: %s", diff)
	}
	if c.AgentsUsed == nil || len(c.AgentsUsed) != 0 {
		t.Errorf("AgentsUsed = %#v, want empty, not nil", c.AgentsUsed)
	}
	if *c.AssistantVersion != "v7" || *c.LeadName != "Ana Ruiz" || *c.RecordingDuration != 31.5 ||
		*c.DeploymentType != "telephony" || *c.AgentPhoneNumber != "+34910000000" {
		t.Errorf("scalars = %v %v %v %v %v", *c.AssistantVersion, *c.LeadName, *c.RecordingDuration, *c.DeploymentType, *c.AgentPhoneNumber)
	}
	c, err = api.DecodeCall(json.RawMessage(`{"call_id":"c1","labels":"vip","recording_duration":"n/a"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Labels != nil || c.RecordingDuration != nil || len(c.Problems) != 2 {
		t.Errorf("Labels %v, RecordingDuration %v, Problems %v: want nil, nil and two problems", c.Labels, c.RecordingDuration, c.Problems)
	}
}
