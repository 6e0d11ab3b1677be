package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The key prefixes of information extractors in executed_actions: the
// legacy one and the current one occur side by side in live data.
const (
	prefixExtractInfo   = "extract_info_"
	prefixInfoExtractor = "info_extractor_"
)

// Action is one entry of executed_actions, in whatever shape it came: the
// field is an object keyed by action or an array, and the inner
// parameters and return value are objects or JSON-encoded strings.
type Action struct {
	// Key is the entry's key in the executed_actions object; for an array
	// entry, its name, else "#" and its position.
	Key string
	// Kind is "info_extractor" (either prefix, or action_type
	// extract_info_action_type), else action_type without its
	// "_action_type" suffix, "other" for an object without action_type,
	// or "unknown" for an entry that is not an object.
	Kind string
	// Identifier is Key without its extractor prefix; nil when it has none.
	Identifier *string

	Name         *string
	ActionType   *string
	Description  *string
	ErrorMessage *string // nil when absent, null or empty
	// Status is the outcome: return_value.status when the return value is
	// an object with a string status, else a non-empty return_value_status.
	Status *string

	// ParametersHardCoded, ParametersFromLLM and ReturnValue are JSON,
	// decoded when sent as JSON-encoded strings; a string that is not JSON
	// is kept as a JSON string and its field named in Undecoded. nil when
	// absent, null or an empty string.
	ParametersHardCoded json.RawMessage
	ParametersFromLLM   json.RawMessage
	ReturnValue         json.RawMessage
	Undecoded           []string

	IsRelevant *bool
	// RanAt is timestamp (epoch seconds) or else timestamp_datetime.
	RanAt *time.Time
	// Raw is the entry as sent.
	Raw json.RawMessage
}

// actions reads executed_actions. It returns nil when the field is absent,
// null, empty ({}, [] or "") so that a payload without actions never
// replaces stored ones; any other value yields at least one Action, an
// unknown shape being kept as one entry of kind "unknown".
func (d *decoder) actions(key string) []Action {
	v := d.value(key)
	if v == nil {
		return nil
	}
	if v[0] == '"' { // the whole field JSON-encoded
		if inner, ok := decodedString(v); ok {
			v = inner
		} else if s, err := unquote(v); err == nil && strings.TrimSpace(s) == "" {
			return nil
		}
	}
	var out []Action
	switch v[0] {
	case '{':
		entries, err := objectEntries(v)
		if err != nil {
			d.problem(key, "%v", err)
			return []Action{unknownAction("#1", v)}
		}
		for _, e := range entries {
			out = append(out, action(e.key, e.value))
		}
	case '[':
		elems, err := arrayElements(v)
		if err != nil {
			d.problem(key, "%v", err)
			return []Action{unknownAction("#1", v)}
		}
		for i, e := range elems {
			out = append(out, action(arrayKey(e, i+1), e))
		}
	default:
		out = []Action{unknownAction("#1", v)}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// arrayKey names an array entry: its name field when it has one, else #n.
func arrayKey(e json.RawMessage, n int) string {
	if inner, ok := decodedString(e); ok {
		e = inner
	}
	if m, err := objectMembers(e); err == nil {
		if s, ok := plainString(m["name"]); ok && s != "" {
			return s
		}
	}
	return "#" + strconv.Itoa(n)
}

func unknownAction(key string, raw json.RawMessage) Action {
	return Action{Key: key, Kind: "unknown", Raw: raw}
}

// action reads one entry.
func action(key string, raw json.RawMessage) Action {
	a := Action{Key: key, Raw: raw}
	body := raw
	if inner, ok := decodedString(raw); ok {
		body = inner
	}
	m, err := objectMembers(body)
	if err != nil {
		a.Kind = "unknown"
		return a
	}
	d := decoder{fields: m}
	a.Name = d.str("name")
	a.ActionType = d.str("action_type")
	a.Description = d.str("description")
	a.ErrorMessage = nonBlank(d.str("error_message"))
	for _, f := range []struct {
		name string
		dst  *json.RawMessage
	}{
		{"parameters_hard_coded", &a.ParametersHardCoded},
		{"parameters_from_llm", &a.ParametersFromLLM},
		{"return_value", &a.ReturnValue},
	} {
		v, undecoded := innerJSON(d.value(f.name))
		*f.dst = v
		if undecoded {
			a.Undecoded = append(a.Undecoded, f.name)
		}
	}
	if rv, err := objectMembers(a.ReturnValue); err == nil {
		if s, ok := plainString(rv["status"]); ok && strings.TrimSpace(s) != "" {
			a.Status = &s
		}
	}
	if a.Status == nil {
		a.Status = nonBlank(d.str("return_value_status"))
	}
	if s := d.str("is_relevant_action"); s != nil {
		switch strings.ToLower(strings.TrimSpace(*s)) {
		case "true":
			a.IsRelevant = new(true)
		case "false":
			a.IsRelevant = new(false)
		}
	}
	a.RanAt = d.time("timestamp")
	if a.RanAt == nil {
		a.RanAt = d.time("timestamp_datetime")
	}
	a.Kind = actionKind(key, a.ActionType)
	for _, p := range []string{prefixExtractInfo, prefixInfoExtractor} {
		if id, ok := strings.CutPrefix(key, p); ok {
			a.Identifier = &id
			break
		}
	}
	return a
}

// actionKind classifies an action by its key prefix and action_type.
func actionKind(key string, actionType *string) string {
	if strings.HasPrefix(key, prefixExtractInfo) || strings.HasPrefix(key, prefixInfoExtractor) {
		return "info_extractor"
	}
	if actionType == nil || strings.TrimSpace(*actionType) == "" {
		return "other"
	}
	t := strings.ToLower(strings.TrimSpace(*actionType))
	if t == "extract_info_action_type" || t == "information_extractor" {
		return "info_extractor"
	}
	return strings.TrimSuffix(t, "_action_type")
}

// innerJSON reads a field that may be JSON or a JSON-encoded string. A
// string that holds JSON is decoded; one that does not is kept as the JSON
// string itself, reported as undecoded; an empty string is nil.
func innerJSON(v []byte) (out json.RawMessage, undecoded bool) {
	if v == nil {
		return nil, false
	}
	if v[0] != '"' {
		return v, false
	}
	if inner, ok := decodedString(v); ok {
		return inner, false
	}
	s, err := unquote(v)
	if err != nil || strings.TrimSpace(s) == "" {
		return nil, false
	}
	return v, true
}

// decodedString returns the JSON held in the JSON string literal v, when v
// is a string whose text is a JSON value.
func decodedString(v []byte) (json.RawMessage, bool) {
	if len(v) == 0 || v[0] != '"' {
		return nil, false
	}
	s, err := unquote(v)
	if err != nil {
		return nil, false
	}
	b := bytes.TrimSpace([]byte(s))
	if len(b) == 0 || !json.Valid(b) {
		return nil, false
	}
	return b, true
}

// plainString returns the text of a JSON string literal.
func plainString(v []byte) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	s, err := unquote(v)
	return s, err == nil
}

func nonBlank(p *string) *string {
	if p == nil || strings.TrimSpace(*p) == "" {
		return nil
	}
	return p
}
