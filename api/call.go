package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Call is one call object, decoded tolerantly. A nil pointer means the API
// sent the field as null, sent it in a shape that could not be read (listed
// in Problems), or did not send it at all.
type Call struct {
	ID                  string
	ModelID             *string
	Status              *string // status, or call_status on the list endpoint
	EndCallReason       *string
	CustomEndCallReason *string
	TypeOfCall          *string
	CampaignType        *string
	PhoneNumberFrom     *string
	PhoneNumberTo       *string
	Name                *string
	StartTime           *time.Time
	DurationSeconds     *int64
	Timezone            *string
	RecordingURL        *string
	ErrorMessage        *string
	Transcript          *string
	ExecutedActions     json.RawMessage // as sent; nil when absent or null
	PromptVariables     json.RawMessage // as sent; nil when absent or null
	// CollectedVariables is nil when the field is absent, null or not an object.
	CollectedVariables []Variable
	// Actions is executed_actions decoded; nil when absent, null or empty.
	Actions []Action
	// Judgements is judge_results decoded (list endpoint only); nil when
	// absent, null or empty.
	Judgements []Judgement

	// The list endpoint's extra fields. Labels and AgentsUsed are nil when
	// absent, null or not an array; RecordingDuration is nil when not a
	// number or numeric string.
	Labels            []string
	AgentsUsed        []string
	AssistantVersion  *string
	LeadName          *string
	RecordingDuration *float64
	DeploymentType    *string
	AgentPhoneNumber  *string

	TelephonyHangup           *string
	TelephonyDisconnectReason *string
	TelephonyDurationMS       *int64
	TelephonyRingingMS        *int64
	TelephonyStart            *time.Time
	TelephonyEnd              *time.Time

	// Raw is the call object exactly as received, unknown fields included.
	Raw json.RawMessage
	// Problems lists fields that were present but could not be read, one
	// line each ("duration: want a number, got \"abc\"").
	Problems []string
}

// Variable is one collected variable.
type Variable struct {
	// AgentID is the agent level of the payload; empty when it has none.
	AgentID string
	Name    string
	// Value is the JSON value as sent; a JSON null is the bytes null.
	Value json.RawMessage
	// Collected is nil when the payload does not say.
	Collected *bool
}

// DecodeCall decodes one call object. It fails only when raw is not a JSON
// object; every field that cannot be read is left nil and noted in Problems.
func DecodeCall(raw json.RawMessage) (*Call, error) {
	if !validJSON(raw) {
		var v any
		return nil, fmt.Errorf("call object: %w", json.Unmarshal(raw, &v))
	}
	return decodeValidCall(raw)
}

// decodeValidCall is DecodeCall for raw already known to be valid JSON.
func decodeValidCall(raw json.RawMessage) (*Call, error) {
	fields, err := objectMembers(raw)
	if err != nil {
		return nil, fmt.Errorf("call object: %w", err)
	}
	d := decoder{fields: fields}
	c := &Call{Raw: raw}
	if id := d.str("call_id"); id != nil {
		c.ID = *id
	}
	c.ModelID = d.str("model_id")
	c.Status = d.str("status")
	if c.Status == nil {
		c.Status = d.str("call_status")
	}
	c.EndCallReason = d.str("end_call_reason")
	c.CustomEndCallReason = d.str("custom_end_call_reason")
	c.TypeOfCall = d.str("type_of_call")
	c.CampaignType = d.str("campaign_type")
	c.PhoneNumberFrom = d.str("phone_number_from")
	c.PhoneNumberTo = d.str("phone_number_to")
	c.Name = d.str("name")
	c.StartTime = d.time("start_time")
	c.DurationSeconds = d.int("duration")
	c.Timezone = d.str("timezone")
	c.RecordingURL = d.str("recording_url")
	c.ErrorMessage = d.str("error_message")
	c.Transcript = d.str("transcript")
	c.ExecutedActions = d.json("executed_actions")
	c.PromptVariables = d.json("prompt_variables")
	c.CollectedVariables = d.variables("collected_variables")
	c.Actions = d.actions("executed_actions")
	c.Judgements = d.judgements("judge_results")
	c.Labels = d.strings("labels")
	c.AgentsUsed = d.strings("agents_used")
	c.AssistantVersion = d.str("assistant_version")
	c.LeadName = d.str("lead_name")
	c.RecordingDuration = d.float("recording_duration")
	c.DeploymentType = d.str("deployment_type")
	c.AgentPhoneNumber = d.str("agent_phone_number")
	c.TelephonyHangup = d.str("telephony_hangup")
	c.TelephonyDisconnectReason = d.str("telephony_disconnect_reason")
	c.TelephonyDurationMS = d.int("telephony_duration")
	c.TelephonyRingingMS = d.int("telephony_ringing_duration")
	c.TelephonyStart = d.time("telephony_start")
	c.TelephonyEnd = d.time("telephony_end")
	c.Problems = d.problems
	return c, nil
}

// decoder reads fields of one call object, collecting problems.
type decoder struct {
	fields   map[string]json.RawMessage
	problems []string
}

func (d *decoder) problem(key, format string, args ...any) {
	d.problems = append(d.problems, key+": "+fmt.Sprintf(format, args...))
}

// value returns the field with surrounding space trimmed, or nil when it is
// absent or null.
func (d *decoder) value(key string) []byte {
	v := bytes.TrimSpace(d.fields[key])
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	return v
}

// str reads a string. Numbers and booleans are taken as their JSON text;
// objects and arrays are problems.
func (d *decoder) str(key string) *string {
	v := d.value(key)
	if v == nil {
		return nil
	}
	switch v[0] {
	case '"':
		s, err := unquote(v)
		if err != nil {
			d.problem(key, "%v", err)
			return nil
		}
		return &s
	case '{', '[':
		d.problem(key, "want a string, got %s", kindOf(v))
		return nil
	default: // number, true, false
		s := string(v)
		return &s
	}
}

// text returns the scalar v as text: a number as written, a string
// unquoted and trimmed. It reports false for an empty string, and for a
// string it cannot read (noted as a problem).
func (d *decoder) text(key string, v []byte) (string, bool) {
	if v[0] != '"' {
		return string(v), true
	}
	s, err := unquote(v)
	if err != nil {
		d.problem(key, "%v", err)
		return "", false
	}
	s = strings.TrimSpace(s)
	return s, s != ""
}

// int reads an integer sent as a number or a numeric string. Fractions are
// rounded.
func (d *decoder) int(key string) *int64 {
	v := d.value(key)
	if v == nil {
		return nil
	}
	s, ok := d.text(key, v)
	if !ok {
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return &n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62 {
		d.problem(key, "want a number, got %s", kindOf(v))
		return nil
	}
	n := int64(math.Round(f))
	return &n
}

// bool reads a boolean sent as true/false or as the strings "true"/"false"
// in any case; anything else is nil.
func (d *decoder) bool(key string) *bool {
	v := d.str(key)
	if v == nil {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(*v)) {
	case "true":
		return new(true)
	case "false":
		return new(false)
	}
	return nil
}

// float reads a number sent as a number or a numeric string.
func (d *decoder) float(key string) *float64 {
	v := d.value(key)
	if v == nil {
		return nil
	}
	s, ok := d.text(key, v)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.problem(key, "want a number, got %s", kindOf(v))
		return nil
	}
	return &f
}

// strings reads an array of strings; other scalars in it are taken as
// their JSON text, null elements are dropped. A string holding a JSON array
// is read as that array; any other shape is a problem.
func (d *decoder) strings(key string) []string {
	v := d.value(key)
	if v == nil {
		return nil
	}
	if inner, ok := decodedString(v); ok && inner[0] == '[' {
		v = inner
	}
	elems, err := arrayElements(v)
	if err != nil {
		d.problem(key, "want an array of strings, got %s", kindOf(v))
		return nil
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		if t := jsonText(e); t != nil {
			out = append(out, *t)
		}
	}
	return out
}

// time reads a timestamp: epoch milliseconds as a number or a string of
// digits (a value below 1e11 is taken as seconds), or an ISO-8601 string,
// without an offset meaning UTC. An object (the API's example sends {}) means
// unknown and is not a problem.
func (d *decoder) time(key string) *time.Time {
	v := d.value(key)
	if v == nil {
		return nil
	}
	if v[0] == '{' || v[0] == '[' {
		if string(v) != "{}" && string(v) != "[]" {
			d.problem(key, "want a timestamp, got %s", kindOf(v))
		}
		return nil
	}
	s, ok := d.text(key, v)
	if !ok {
		return nil
	}
	t, ok := parseTime(s)
	if !ok {
		d.problem(key, "want epoch milliseconds or ISO 8601, got %s", kindOf(v))
		return nil
	}
	return &t
}

// isoLayouts are the timestamp shapes the API sends, with and without offset.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseTime reads epoch milliseconds (or seconds, below 1e11) as digits, or an
// ISO-8601 timestamp; without an offset the time is UTC. It reports false for
// anything else, and for years outside 1970–9999.
func parseTime(s string) (time.Time, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || f < 0 || f >= 253402300800000 { // 10000-01-01 in ms
			return time.Time{}, false
		}
		if f < 1e11 {
			f *= 1000
		}
		return time.UnixMilli(int64(math.Round(f))).UTC(), true
	}
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1970 {
				return time.Time{}, false
			}
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// json returns a field's raw JSON, or nil when absent or null.
func (d *decoder) json(key string) json.RawMessage {
	return d.value(key)
}

// variables reads collected_variables in its three shapes: null, one level
// ({name: {value, collected}}) and two levels ({agent: {name: {value,
// collected}}}). A child is a variable when it has a value or collected key,
// or is not an object; otherwise it is an agent. Variables come out sorted by
// agent, then name.
func (d *decoder) variables(key string) []Variable {
	v := d.value(key)
	if v == nil {
		return nil
	}
	top, err := objectMembers(v) // v is valid JSON: the call object was validated
	if err != nil {
		d.problem(key, "want an object, got %s", kindOf(v))
		return nil
	}
	out := []Variable{}
	for name, child := range top {
		if vars, ok := agentLevel(child); ok {
			for vname, vraw := range vars {
				out = append(out, variable(name, vname, vraw))
			}
			continue
		}
		out = append(out, variable("", name, child))
	}
	slices.SortFunc(out, func(a, b Variable) int {
		return cmp.Or(cmp.Compare(a.AgentID, b.AgentID), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// agentLevel reports whether raw is an agent's map of variables, and returns it.
func agentLevel(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	m, err := objectMembers(raw)
	if err != nil {
		return nil, false
	}
	if _, ok := m["value"]; ok {
		return nil, false
	}
	if _, ok := m["collected"]; ok {
		return nil, false
	}
	return m, true
}

// variable reads one {value, collected} entry; anything else is taken as the
// value itself.
func variable(agent, name string, raw json.RawMessage) Variable {
	v := Variable{AgentID: agent, Name: name, Value: bytes.TrimSpace(raw)}
	if m, err := objectMembers(raw); err == nil {
		value, hasValue := m["value"]
		collected, hasCollected := m["collected"]
		if !hasValue && !hasCollected {
			return v // an object of its own: the value itself
		}
		v.Value = value
		switch strings.ToLower(strings.Trim(string(collected), `"`)) {
		case "true":
			v.Collected = new(true)
		case "false":
			v.Collected = new(false)
		}
	}
	if len(v.Value) == 0 {
		v.Value = json.RawMessage("null")
	}
	return v
}

// kindOf describes a raw JSON value for a problem message by its kind and
// size, never by its content: problems are logged, and logs are outside
// erasure and retention, so they must not carry numbers, names or words
// of a call.
func kindOf(v []byte) string {
	switch v[0] {
	case '"':
		return fmt.Sprintf("a string of %d bytes", len(v)-2)
	case '{':
		return fmt.Sprintf("an object of %d bytes", len(v))
	case '[':
		return fmt.Sprintf("an array of %d bytes", len(v))
	case 't', 'f':
		return "a boolean"
	}
	return fmt.Sprintf("a number of %d digits", len(v))
}
