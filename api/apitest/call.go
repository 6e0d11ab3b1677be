package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// fieldOrder is the canonical order of call fields: the union of the get-one
// and list field sets, roughly in the order the real API sends them. Fields
// not listed here (unknown keys from raw JSON) follow, sorted by name.
var fieldOrder = []string{
	"call_id", "model_id", "campaign_type", "phone_number_from", "phone_number_to",
	"name", "lead_name", "lead_phone_number", "agent_phone_number", "transcript",
	"duration", "recording_url", "recording_duration", "end_call_reason",
	"custom_end_call_reason", "error_message", "executed_actions", "prompt_variables",
	"type_of_call", "deployment_type", "start_time", "timezone", "telephony_hangup",
	"telephony_disconnect_reason", "telephony_duration", "telephony_ringing_duration",
	"telephony_start", "telephony_end", "telephony_sip_headers", "status",
	"judge_results", "collected_variables", "labels", "agents_used", "assistant_version",
}

var fieldRank = func() map[string]int {
	m := make(map[string]int, len(fieldOrder))
	for i, name := range fieldOrder {
		m[name] = i
	}
	return m
}()

// listOnly fields are sent by GET /v2/calls and not by GET /v2/calls/{id}.
var listOnly = map[string]bool{
	"lead_name": true, "lead_phone_number": true, "agent_phone_number": true,
	"judge_results": true, "labels": true, "agents_used": true, "deployment_type": true,
	"recording_duration": true, "telephony_sip_headers": true, "assistant_version": true,
}

// getOnly fields are sent by GET /v2/calls/{id} and not by GET /v2/calls.
// The status is in neither set: it is "status" on get-one and "call_status"
// on the list.
var getOnly = map[string]bool{"prompt_variables": true, "custom_end_call_reason": true}

// field is one key of a call object with its compact JSON value.
type field struct {
	name  string
	value json.RawMessage
}

// Call is one call held by the fake API: its identity (ID, model, start time),
// its canonical fields (the union of the get-one and list field sets, with
// the status stored as "status"), and its response bodies rendered once.
// A Call is an immutable value; With and Without return modified copies.
// Build one with Generate or ParseCall; the zero Call is not usable.
type Call struct {
	id       string
	modelID  string
	start    time.Time
	fields   []field
	getJSON  []byte // call object, get-one field set
	listJSON []byte // call object, list field set
	getBody  []byte // full GET /v2/calls/{id} response body
}

// ParseCall builds a Call from raw JSON: a call object, or a response
// envelope ({"status":…,"response":{"calls":[…]}}) whose first call is taken,
// such as examples/get-call.json. Values are kept verbatim (compacted). A
// "call_status" key is stored as "status" unless "status" is also present.
// The start time is read from start_time as epoch-ms digits, a JSON number or
// an ISO 8601 string; when it is missing or unreadable the Call's Start is
// the zero time. ParseCall returns an error when data is not a JSON object or
// has no non-empty string call_id.
func ParseCall(data []byte) (Call, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return Call{}, fmt.Errorf("parse call: %w", err)
	}
	if _, ok := obj["call_id"]; !ok {
		if resp, ok := obj["response"]; ok {
			var env struct {
				Calls []map[string]json.RawMessage `json:"calls"`
			}
			if err := json.Unmarshal(resp, &env); err != nil {
				return Call{}, fmt.Errorf("parse call envelope: %w", err)
			}
			if len(env.Calls) == 0 {
				return Call{}, errors.New("parse call envelope: no calls in response")
			}
			obj = env.Calls[0]
		}
	}
	fields := make([]field, 0, len(obj))
	for name, v := range obj {
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return Call{}, fmt.Errorf("parse call field %s: %w", name, err)
		}
		fields = append(fields, field{name: name, value: buf.Bytes()})
	}
	return build(fields, Call{})
}

// build sorts fields canonically, derives the identity and renders the
// bodies. Identity fields that are absent keep the values of prev, so
// Without("call_id") still serves the call under its old ID.
func build(fields []field, prev Call) (Call, error) {
	fields = normalizeStatus(fields)
	slices.SortStableFunc(fields, func(a, b field) int {
		ra, oka := fieldRank[a.name]
		rb, okb := fieldRank[b.name]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	c := Call{id: prev.id, modelID: prev.modelID, start: prev.start, fields: fields}
	for _, f := range fields {
		switch f.name {
		case "call_id":
			var id string
			if err := json.Unmarshal(f.value, &id); err != nil || id == "" {
				return Call{}, fmt.Errorf("call_id %s: not a non-empty string", f.value)
			}
			c.id = id
		case "model_id":
			var m string
			if json.Unmarshal(f.value, &m) == nil {
				c.modelID = m
			}
		case "start_time":
			if t, ok := parseStartTime(f.value); ok {
				c.start = t
			}
		}
	}
	if c.id == "" {
		return Call{}, errors.New("call has no call_id")
	}
	c.getJSON = render(fields, false)
	c.listJSON = render(fields, true)
	c.getBody = slices.Concat(
		[]byte(`{"status":"ok","response":{"pagination":{"total_records":1,"limit":20,"offset":0},"calls":[`),
		c.getJSON, []byte(`]}}`))
	return c, nil
}

// normalizeStatus stores a list-style "call_status" as "status".
func normalizeStatus(fields []field) []field {
	hasStatus := slices.ContainsFunc(fields, func(f field) bool { return f.name == "status" })
	out := fields[:0:0]
	for _, f := range fields {
		if f.name == "call_status" {
			if hasStatus {
				continue
			}
			f.name = "status"
		}
		out = append(out, f)
	}
	return out
}

// render writes the call object in the get-one or the list field set.
func render(fields []field, list bool) []byte {
	n := 2
	for _, f := range fields {
		n += len(f.name) + len(f.value) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	first := true
	for _, f := range fields {
		name := f.name
		switch {
		case name == "status" && list:
			name = "call_status"
		case list && getOnly[name], !list && listOnly[name]:
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = append(b, f.value...)
	}
	return append(b, '}')
}

// parseStartTime reads start_time: a string of epoch-ms digits, a JSON
// number of epoch ms, or an ISO 8601 string.
func parseStartTime(v json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v) // a JSON number
	}
	if ms, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(ms)).UTC(), true
	}
	t, err := parseDate(s)
	return t, err == nil
}

// ID returns the call's call_id.
func (c Call) ID() string { return c.id }

// ModelID returns the call's model_id (the agent), or "" if it has none.
func (c Call) ModelID() string { return c.modelID }

// Start returns the call's start time, which orders and filters the list
// endpoint, or the zero time if start_time is missing or unreadable.
func (c Call) Start() time.Time { return c.start }

// GetJSON returns a copy of the call object exactly as GET /v2/calls/{id}
// serves it in response.calls[0] (the get-one field set).
func (c Call) GetJSON() []byte { return slices.Clone(c.getJSON) }

// ListJSON returns a copy of the call object exactly as GET /v2/calls serves
// it in response.calls (the list field set, with "call_status").
func (c Call) ListJSON() []byte { return slices.Clone(c.listJSON) }

// Field returns a copy of the canonical JSON value of one field, and whether
// the call has it. "call_status" and "status" name the same field.
func (c Call) Field(name string) (json.RawMessage, bool) {
	if name == "call_status" {
		name = "status"
	}
	for _, f := range c.fields {
		if f.name == name {
			return slices.Clone(f.value), true
		}
	}
	return nil, false
}

// With returns a copy of the call with one field set to value, marshalled
// to JSON (a json.RawMessage is used verbatim). Setting call_id, model_id or
// start_time changes the identity accordingly. It returns an error when value
// does not marshal or call_id is not a non-empty string.
func (c Call) With(name string, value any) (Call, error) {
	raw, err := json.Marshal(value)
	if err != nil {
		return Call{}, fmt.Errorf("set call field %s: %w", name, err)
	}
	if name == "call_status" {
		name = "status"
	}
	fields := slices.Clone(c.fields)
	i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
	if i >= 0 {
		fields[i].value = raw
	} else {
		fields = append(fields, field{name: name, value: raw})
	}
	return build(fields, c)
}

// Without returns a copy of the call without the named fields, to serve a
// call with fields absent. The identity is kept even if its fields go.
func (c Call) Without(names ...string) Call {
	fields := slices.DeleteFunc(slices.Clone(c.fields), func(f field) bool {
		return slices.Contains(names, f.name) || (f.name == "status" && slices.Contains(names, "call_status"))
	})
	out, err := build(fields, c)
	if err != nil {
		return c // unreachable: prev supplies the ID
	}
	return out
}

// callBefore orders the list endpoint: newest start time first, then call_id.
func callBefore(a, b *Call) int {
	if c := b.start.Compare(a.start); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}
