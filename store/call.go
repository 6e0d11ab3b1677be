package store

import "time"

// Call is one row of calls with its child rows, ready to write.
//
// A nil pointer or nil slice means "not sent": the stored value is kept.
// Deciding what counts as not sent (absent, null, an empty transcript) is the
// caller's business; the store only honours nil.
type Call struct {
	ID                  string
	ModelID             *string
	Status              *string
	EndCallReason       *string
	CustomEndCallReason *string
	TypeOfCall          *string
	CampaignType        *string
	PhoneNumberFrom     *string
	PhoneNumberTo       *string
	Name                *string
	StartedAt           *time.Time
	DurationSeconds     *int32
	Timezone            *string
	RecordingURL        *string
	ErrorMessage        *string
	ExecutedActions     []byte // JSON
	PromptVariables     []byte // JSON
	Raw                 []byte // JSON object; merged key by key over the stored one
	PayloadHash         []byte

	// Fields of the list endpoint only. A nil slice keeps the stored array;
	// an empty one stores an empty array.
	Labels            []string
	AgentsUsed        []string
	AssistantVersion  *string
	LeadName          *string
	RecordingDuration *float64
	DeploymentType    *string
	AgentPhoneNumber  *string
	// AnsweredByHuman is the result of the answered_by_human judgement, ""
	// when Judgements lack it; set it whenever Judgements is non-nil.
	AnsweredByHuman *string

	// Transcript replaces the stored lines when non-nil.
	Transcript []TranscriptLine
	// Variables replaces the stored variables when non-nil.
	Variables []Variable
	// Telephony is upserted field by field when non-nil.
	Telephony *Telephony
	// Actions replaces the stored call_actions rows when non-nil.
	Actions []Action
	// Judgements replaces the stored call_judgements rows when non-nil.
	Judgements []Judgement

	// Numbers are the digits of the call's phone numbers (from, to, lead)
	// as the API sent them, before any hashing. They are never stored: a
	// write checks them against the erased numbers (callsync forget
	// --phone-number) and drops the call when one matches.
	Numbers []string
}

// Action is one row of call_actions. The JSON fields are nil for NULL.
type Action struct {
	Position            int32
	Key                 string
	Kind                string
	Identifier          *string
	Name                *string
	ActionType          *string
	Description         *string
	Status              *string
	ErrorMessage        *string
	ParametersHardCoded []byte // JSON
	ParametersFromLLM   []byte // JSON
	ReturnValue         []byte // JSON
	IsRelevant          *bool
	RanAt               *time.Time
	Undecoded           []string
	Raw                 []byte // JSON, never nil
}

// Judgement is one row of call_judgements.
type Judgement struct {
	Criterion string
	Result    *string // true, false, partial, not_applicable or nil
	Value     *string
	Feedback  *string
}

// TranscriptLine is one row of transcript_lines.
type TranscriptLine struct {
	LineNo  int32
	Speaker string
	Text    string
}

// Variable is one row of collected_variables.
type Variable struct {
	AgentID   string
	Name      string
	Value     []byte // JSON, never nil: a JSON null is the four bytes null
	Collected *bool
}

// Telephony is the call_telephony row of a call.
type Telephony struct {
	Hangup            *string
	DisconnectReason  *string
	DurationMS        *int64
	RingingDurationMS *int64
	StartedAt         *time.Time
	EndedAt           *time.Time
}
