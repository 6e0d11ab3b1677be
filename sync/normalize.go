package sync

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// Normalize turns a call as the API sent it into warehouse rows. It applies
// the preservation rules: an empty transcript, an empty or null set of
// collected variables and a missing or empty recording URL are sent to the
// store as "keep what you have" (nil), because Synthflow deletes transcripts
// and recordings after its retention window and the warehouse keeps history.
// Text that Postgres would reject (NUL characters, JSON nested too deep) is
// cleaned. PayloadHash is that of the payload as sent (see PayloadHash).
// notes lists what was changed or could not be read, for the log. It
// returns an error only when raw JSON cannot be re-encoded, which the
// decoder makes impossible for payloads it accepted.
func Normalize(c *api.Call) (row store.Call, notes []string, err error) {
	notes = append(notes, c.Problems...)
	n := normalizer{}
	row = store.Call{
		ID:                  n.text(c.ID),
		ModelID:             n.ptr(c.ModelID),
		Status:              n.ptr(c.Status),
		EndCallReason:       n.ptr(c.EndCallReason),
		CustomEndCallReason: n.ptr(c.CustomEndCallReason),
		TypeOfCall:          n.ptr(c.TypeOfCall),
		CampaignType:        n.ptr(c.CampaignType),
		PhoneNumberFrom:     n.ptr(c.PhoneNumberFrom),
		PhoneNumberTo:       n.ptr(c.PhoneNumberTo),
		Name:                n.ptr(c.Name),
		StartedAt:           c.StartTime,
		Timezone:            n.ptr(c.Timezone),
		RecordingURL:        nonEmpty(n.ptr(c.RecordingURL)),
		ErrorMessage:        n.ptr(c.ErrorMessage),
	}
	if d := timing(c.DurationSeconds, time.Second, "duration", &notes); d != nil {
		row.DurationSeconds = new(int32(*d))
	}
	if row.ExecutedActions, err = n.json("executed_actions", c.ExecutedActions); err != nil {
		return row, notes, err
	}
	if row.PromptVariables, err = n.json("prompt_variables", c.PromptVariables); err != nil {
		return row, notes, err
	}
	if row.Raw, err = n.json("raw", c.Raw); err != nil {
		return row, notes, err
	}
	if c.Transcript != nil && strings.TrimSpace(*c.Transcript) != "" {
		row.Transcript = ParseTranscript(n.text(*c.Transcript))
	}
	if len(c.CollectedVariables) > 0 {
		row.Variables = make([]store.Variable, 0, len(c.CollectedVariables))
		for _, v := range c.CollectedVariables {
			value, err := n.json("collected_variables", v.Value)
			if err != nil {
				return row, notes, err
			}
			row.Variables = append(row.Variables, store.Variable{
				AgentID: n.text(v.AgentID), Name: n.text(v.Name), Value: value, Collected: v.Collected,
			})
		}
	}
	row.Labels, row.AgentsUsed = n.texts(c.Labels), n.texts(c.AgentsUsed)
	row.AssistantVersion, row.LeadName = n.ptr(c.AssistantVersion), n.ptr(c.LeadName)
	row.DeploymentType, row.AgentPhoneNumber = n.ptr(c.DeploymentType), n.ptr(c.AgentPhoneNumber)
	row.RecordingDuration = c.RecordingDuration
	if row.Actions, err = n.actions(c.Actions); err != nil {
		return row, notes, err
	}
	row.Judgements, row.AnsweredByHuman = n.judgements(c.Judgements)
	t := store.Telephony{
		Hangup:            n.ptr(c.TelephonyHangup),
		DisconnectReason:  n.ptr(c.TelephonyDisconnectReason),
		DurationMS:        timing(c.TelephonyDurationMS, time.Millisecond, "telephony_duration", &notes),
		RingingDurationMS: timing(c.TelephonyRingingMS, time.Millisecond, "telephony_ringing_duration", &notes),
		StartedAt:         c.TelephonyStart,
		EndedAt:           c.TelephonyEnd,
	}
	if t != (store.Telephony{}) {
		row.Telephony = &t
	}
	row.PayloadHash = PayloadHash(c.Raw)
	row.Numbers = callNumbers(c.PhoneNumberFrom, c.PhoneNumberTo)
	return row, append(notes, n.notes()...), nil
}

// maxTiming is the longest duration a call can have: a longer one, like a
// negative one, is a fault of the sender, and summed into daily talk time
// it would skew every dashboard.
const maxTiming = 7 * 24 * time.Hour

// timing returns a duration counted in unit when it is between 0 and
// maxTiming, and nil with a note otherwise.
func timing(v *int64, unit time.Duration, field string, notes *[]string) *int64 {
	if v == nil {
		return nil
	}
	if *v < 0 || *v > int64(maxTiming/unit) {
		*notes = append(*notes, field+": negative or longer than 7 days, not stored")
		return nil
	}
	return v
}

// normalizeVersion names what Normalize makes of a payload. Change it
// whenever Normalize stores something different for the same payload: the
// payload hashes change with it, so every call is written in full on its
// next sync instead of being skipped as unchanged.
const normalizeVersion = "callsync normalize 4\n"

// PayloadHash is the hash of a call object as the API sent it, byte for
// byte, and of the version of Normalize: two payloads with the same hash
// make the same rows. A sync pass compares it with the stored call's
// payload_hash to skip decoding and writing a call that has not changed.
func PayloadHash(raw []byte) []byte {
	h := sha256.New()
	h.Write([]byte(normalizeVersion))
	h.Write(raw)
	return h.Sum(nil)
}

// normalizer cleans values and remembers what it changed.
type normalizer struct {
	nulText int
	fixed   []string
}

func (n *normalizer) text(s string) string {
	s, fixed := cleanText(s)
	if fixed {
		n.nulText++
	}
	return s
}

func (n *normalizer) ptr(p *string) *string {
	if p == nil {
		return nil
	}
	s := n.text(*p)
	return &s
}

func (n *normalizer) json(field string, raw []byte) ([]byte, error) {
	if raw == nil {
		return nil, nil
	}
	out, fixed, err := cleanJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if fixed != "" {
		n.fixed = append(n.fixed, field+": "+fixed)
	}
	return out, nil
}

// texts cleans a list of strings; nil stays nil (not sent).
func (n *normalizer) texts(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = n.text(s)
	}
	return out
}

// actions turns decoded actions into rows, numbered in the order sent.
func (n *normalizer) actions(as []api.Action) ([]store.Action, error) {
	if as == nil {
		return nil, nil
	}
	out := make([]store.Action, 0, len(as))
	for i, a := range as {
		row := store.Action{
			Position: int32(i + 1), Key: n.text(a.Key), Kind: a.Kind, Identifier: n.ptr(a.Identifier),
			Name: n.ptr(a.Name), ActionType: n.ptr(a.ActionType), Description: n.ptr(a.Description),
			Status: n.ptr(a.Status), ErrorMessage: n.ptr(a.ErrorMessage), IsRelevant: a.IsRelevant, RanAt: a.RanAt,
			Undecoded: a.Undecoded,
		}
		var err error
		for _, f := range []struct {
			src json.RawMessage
			dst *[]byte
		}{{a.ParametersHardCoded, &row.ParametersHardCoded}, {a.ParametersFromLLM, &row.ParametersFromLLM},
			{a.ReturnValue, &row.ReturnValue}, {a.Raw, &row.Raw}} {
			if *f.dst, err = n.json("executed_actions", f.src); err != nil {
				return nil, err
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// answeredByHuman is the judge criterion that says whether a person, not
// a voicemail, answered; call_facts.answered prefers it to the transcript.
const answeredByHuman = "answered_by_human"

// judgements turns decoded judgements into rows, and returns the result
// of answered_by_human for calls.answered_by_human: "" when the set lacks
// it or its result is not normalized, nil when there is no set.
func (n *normalizer) judgements(js []api.Judgement) ([]store.Judgement, *string) {
	if js == nil {
		return nil, nil
	}
	out := make([]store.Judgement, len(js))
	answered := new("")
	for i, j := range js {
		out[i] = store.Judgement{Criterion: n.text(j.Criterion), Result: j.Result, Value: n.ptr(j.Value), Feedback: n.ptr(j.Feedback)}
		if j.Criterion == answeredByHuman && j.Result != nil {
			answered = j.Result
		}
	}
	return out, answered
}

func (n *normalizer) notes() []string {
	notes := n.fixed
	if n.nulText > 0 {
		notes = append(notes, fmt.Sprintf("removed NUL characters from %d text fields", n.nulText))
	}
	return notes
}

func nonEmpty(p *string) *string {
	if p == nil || strings.TrimSpace(*p) == "" {
		return nil
	}
	return p
}
