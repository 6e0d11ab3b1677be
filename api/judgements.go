package api

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Judgement is one judged criterion of judge_results (list pages) or of
// the analysis object of a post-call webhook.
type Judgement struct {
	// Criterion is the key without its _feedback suffix; all_feedback is
	// the criterion "all".
	Criterion string
	// Result is the value normalized to true, false, partial or
	// not_applicable; nil for anything else (null, free text).
	Result *string
	// Value is the value as sent, as text: strings unquoted, other JSON as
	// written; nil when null or not sent.
	Value *string
	// Feedback is the criterion's X_feedback text; nil when not sent.
	Feedback *string
}

const feedbackSuffix = "_feedback"

// judgements reads judge_results or analysis: an object of criterion →
// value with X_feedback siblings, possibly sent as a JSON-encoded string.
// It returns nil when the field is absent, null or empty, so that such a
// payload never replaces stored judgements. Another shape is a problem.
// Judgements come out sorted by criterion.
func (d *decoder) judgements(key string) []Judgement {
	v := d.value(key)
	if v == nil {
		return nil
	}
	if inner, ok := decodedString(v); ok {
		v = inner
	}
	return decodeJudgements(v, func(format string, args ...any) { d.problem(key, format, args...) })
}

// DecodeJudgements reads a judge_results or analysis object as the call
// decoder does. It returns nil for null, an empty object or any value that
// is not an object (or a JSON string holding one).
func DecodeJudgements(raw json.RawMessage) []Judgement {
	v := bytes.TrimSpace(raw)
	if len(v) == 0 || !json.Valid(v) {
		return nil
	}
	if inner, ok := decodedString(v); ok {
		v = inner
	}
	return decodeJudgements(v, func(string, ...any) {})
}

func decodeJudgements(v []byte, problem func(format string, args ...any)) []Judgement {
	m, err := objectMembers(v)
	if err != nil {
		if s, isString := plainString(v); string(v) != "[]" && (!isString || strings.TrimSpace(s) != "") {
			problem("want an object, got %s", kindOf(v))
		}
		return nil
	}
	byCriterion := map[string]*Judgement{}
	get := func(c string) *Judgement {
		j := byCriterion[c]
		if j == nil {
			j = &Judgement{Criterion: c}
			byCriterion[c] = j
		}
		return j
	}
	for k, raw := range m {
		base, isFeedback := strings.CutSuffix(k, feedbackSuffix)
		if isFeedback && base == "" {
			isFeedback = false
		}
		if isFeedback { // all_feedback is the feedback of criterion all
			get(base).Feedback = jsonText(raw)
			continue
		}
		j := get(k)
		j.Value = jsonText(raw)
		j.Result = judgeResult(j.Value)
	}
	out := make([]Judgement, 0, len(byCriterion))
	for _, j := range byCriterion {
		out = append(out, *j)
	}
	slices.SortFunc(out, func(a, b Judgement) int { return strings.Compare(a.Criterion, b.Criterion) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// judgeResult normalizes a judge value: true, True, " partial ",
// NOT_APPLICABLE and the JSON booleans map to the four results.
func judgeResult(v *string) *string {
	if v == nil {
		return nil
	}
	switch s := strings.ToLower(strings.TrimSpace(*v)); s {
	case "true", "false", "partial", "not_applicable":
		return &s
	case "n/a", "not applicable", "not-applicable":
		return new("not_applicable")
	}
	return nil
}

// jsonText is a JSON value as text: a string unquoted, anything else as
// written; nil for null or nothing.
func jsonText(raw json.RawMessage) *string {
	v := bytes.TrimSpace(raw)
	if len(v) == 0 || string(v) == "null" {
		return nil
	}
	if s, ok := plainString(v); ok {
		return &s
	}
	s := string(v)
	return &s
}
