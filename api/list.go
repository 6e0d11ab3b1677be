package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// MaxPageSize is the largest page GET /v2/calls and GET /v2/assistants
// serve: a larger limit is answered 400.
const MaxPageSize = 100

// ListOptions selects one page of GET /v2/calls.
type ListOptions struct {
	// ModelID is the agent whose calls are listed; required.
	ModelID string
	// From and To bound the calls' start times, From inclusive and To
	// exclusive; a zero time leaves that side open. They are sent as epoch
	// milliseconds, so finer precision is dropped.
	From, To time.Time
	// Limit is the page size, 1 to MaxPageSize; zero means MaxPageSize.
	Limit int
	// Offset is the index of the first call of the page.
	Offset int
}

// CallPage is one page of GET /v2/calls.
type CallPage struct {
	// Calls are the page's calls in the API's order. Entries that are not
	// call objects, or have no call_id, are left out and noted in Problems.
	Calls []*Call
	// Total is pagination.total_records: how many calls match the filter as
	// of this request. It is -1 when the API sent no pagination.
	Total int
	// Offset and Limit are the ones asked for.
	Offset, Limit int
	// Problems lists the entries left out, one line each.
	Problems []string
}

// ListCalls fetches one page of GET /v2/calls. Its errors are GetCall's:
// a *StatusError (matching ErrUnauthorized, ErrRateLimited, ErrServer, or
// ErrNotFound), a *TransportError, or a *DecodeError when the body has no
// response.calls array. It returns an error without sending anything when
// opts has no model or a limit out of range.
func (c *Client) ListCalls(ctx context.Context, opts ListOptions) (*CallPage, error) {
	if opts.ModelID == "" {
		return nil, errors.New("list calls: no model id")
	}
	if opts.Limit == 0 {
		opts.Limit = MaxPageSize
	}
	if opts.Limit < 1 || opts.Limit > MaxPageSize || opts.Offset < 0 {
		return nil, fmt.Errorf("list calls: limit %d, offset %d: want a limit of 1 to %d and an offset ≥ 0",
			opts.Limit, opts.Offset, MaxPageSize)
	}
	q := url.Values{}
	q.Set("model_id", opts.ModelID)
	q.Set("limit", strconv.Itoa(opts.Limit))
	q.Set("offset", strconv.Itoa(opts.Offset))
	if !opts.From.IsZero() {
		q.Set("from_date", strconv.FormatInt(opts.From.UnixMilli(), 10))
	}
	if !opts.To.IsZero() {
		q.Set("to_date", strconv.FormatInt(opts.To.UnixMilli(), 10))
	}
	op := fmt.Sprintf("list calls of model %s at offset %d", opts.ModelID, opts.Offset)
	body, err := c.get(ctx, "list_calls", op, c.endpoint(q, "calls"))
	if err != nil {
		return nil, err
	}
	return decodeCallPage(c.redact, op, body, opts)
}

// decodeCallPage reads a list page: its calls, each decoded on its own, and
// its total_records. The body is validated once and opened in one pass
// (callList): a backfill reads a hundred calls a request.
func decodeCallPage(rd *Redactor, op string, body []byte, opts ListOptions) (*CallPage, error) {
	calls, total, err := callList(body)
	if err != nil {
		return nil, &DecodeError{Op: op, Err: err, Body: rd.keep(body)}
	}
	page := &CallPage{Total: total, Offset: opts.Offset, Limit: opts.Limit, Calls: make([]*Call, 0, len(calls))}
	for i, raw := range calls {
		call, err := decodeValidCall(raw)
		switch {
		case err != nil:
			page.Problems = append(page.Problems, fmt.Sprintf("calls[%d]: %v", i, err))
		case call.ID == "":
			page.Problems = append(page.Problems, fmt.Sprintf("calls[%d]: no call_id", i))
		default:
			page.Calls = append(page.Calls, call)
		}
	}
	return page, nil
}

// total returns total_records of the pagination object p, or -1 when p is
// missing, not an object, or its total_records is missing or not a whole
// number (numbers may come as strings).
func total(p json.RawMessage) int {
	raw, err := lastMember(p, "total_records")
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(string(bytes.Trim(bytes.TrimSpace(raw), `"`)))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// Assistant is one agent of GET /v2/assistants.
type Assistant struct {
	// ModelID is the agent's id, the model_id of its calls.
	ModelID string
	// Name is the agent's display name; empty when the API sent none.
	Name string
	// The fields an analyst filters on; nil when absent, null or not
	// readable. Language, Timezone, LLM, VoiceID, IsTranscriptDisabled and
	// RedactPII come from the nested agent object.
	Type                 *string
	PhoneNumber          *string
	Description          *string
	Language             *string
	Timezone             *string
	LLM                  *string
	VoiceID              *string
	IsRecording          *bool
	IsTranscriptDisabled *bool
	RedactPII            *bool
	// Raw is the agent object as sent.
	Raw json.RawMessage
}

// AssistantPage is one page of GET /v2/assistants.
type AssistantPage struct {
	Assistants []Assistant
	// Total is pagination.total_records, or -1 when the API sent none.
	Total int
}

// ListAssistants fetches one page of GET /v2/assistants/ (limit 1 to
// MaxPageSize, zero meaning MaxPageSize). The published schema shows
// response.assistants as one object while the API sends an array; both are
// read. Entries without a model_id are skipped. Its errors are ListCalls's.
func (c *Client) ListAssistants(ctx context.Context, limit, offset int) (*AssistantPage, error) {
	if limit == 0 {
		limit = MaxPageSize
	}
	if limit < 1 || limit > MaxPageSize || offset < 0 {
		return nil, fmt.Errorf("list assistants: limit %d, offset %d: want a limit of 1 to %d and an offset ≥ 0",
			limit, offset, MaxPageSize)
	}
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limit))
	q.Set("offset", strconv.Itoa(offset))
	op := fmt.Sprintf("list assistants at offset %d", offset)
	u := c.endpoint(q, "assistants")
	u.Path += "/" // the documented path is /v2/assistants/
	u.RawPath = ""
	body, err := c.get(ctx, "list_assistants", op, u)
	if err != nil {
		return nil, err
	}
	list, total, err := assistantList(c.redact, op, body)
	if err != nil {
		return nil, err
	}
	page := &AssistantPage{Total: total}
	for _, a := range list {
		if out, ok := decodeAssistant(a); ok {
			page.Assistants = append(page.Assistants, out)
		}
	}
	return page, nil
}

// assistantList reads the entries and total_records of an assistants
// page, response.assistants as an array or as one object.
func assistantList(rd *Redactor, op string, body []byte) ([]json.RawMessage, int, error) {
	var env struct {
		Response *struct {
			Pagination json.RawMessage `json:"pagination"`
			Assistants json.RawMessage `json:"assistants"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, 0, &DecodeError{Op: op, Err: err, Body: rd.keep(body)}
	}
	if env.Response == nil {
		return nil, 0, &DecodeError{Op: op, Err: errors.New("no response object"), Body: rd.keep(body)}
	}
	var list []json.RawMessage
	raw := bytes.TrimSpace(env.Response.Assistants)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '{':
		var one json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, 0, &DecodeError{Op: op, Err: fmt.Errorf("assistants: %w", err), Body: rd.keep(body)}
		}
		list = []json.RawMessage{one}
	default:
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, 0, &DecodeError{Op: op, Err: fmt.Errorf("assistants: %w", err), Body: rd.keep(body)}
		}
	}
	return list, total(env.Response.Pagination), nil
}

// decodeAssistant reads one entry of an assistants page; ok is false for an
// entry that is not an object or has no model_id.
func decodeAssistant(a json.RawMessage) (out Assistant, ok bool) {
	fields, err := objectMembers(a)
	if err != nil {
		return out, false // not an object: no model_id to key it by
	}
	d := decoder{fields: fields}
	id := d.str("model_id")
	if id == nil || *id == "" {
		return out, false
	}
	out = Assistant{ModelID: *id, Raw: bytes.TrimSpace(a)}
	if name := d.str("name"); name != nil {
		out.Name = *name
	}
	out.Type, out.PhoneNumber, out.Description = d.str("type"), d.str("phone_number"), d.str("description")
	out.IsRecording = d.bool("is_recording")
	if inner, err := objectMembers(fields["agent"]); err == nil {
		ad := decoder{fields: inner}
		out.Language, out.Timezone, out.LLM, out.VoiceID = ad.str("language"), ad.str("timezone"), ad.str("llm"), ad.str("voice_id")
		out.IsTranscriptDisabled, out.RedactPII = ad.bool("is_transcript_disabled"), ad.bool("redact_pii")
	}
	return out, true
}
