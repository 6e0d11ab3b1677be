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

	// Transcript replaces the stored lines when non-nil.
	Transcript []TranscriptLine
	// Variables replaces the stored variables when non-nil.
	Variables []Variable
	// Telephony is upserted field by field when non-nil.
	Telephony *Telephony
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
