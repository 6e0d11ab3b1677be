package apitest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// WebhookOptions shape the post-call webhook body that Call.Webhook builds.
type WebhookOptions struct {
	// Analysis is sent as the analysis object as it is (any JSON: null, {},
	// a string, an object of booleans...). Nil derives it from the call's
	// judge_results, in the live shape (see LiveAnalysis).
	Analysis json.RawMessage
	// AnalysisInCall puts analysis under call instead of at the top level:
	// where Synthflow puts it is not documented.
	AnalysisInCall bool
	// NoAnalysis leaves analysis out.
	NoAnalysis bool
}

// Scored criteria and aggregates of the analysis object, as Synthflow's
// webhook documentation lists them.
var (
	analysisCriteria = []string{"persona", "style", "steps", "no_repetition", "objections", "objection_not_defined",
		"knowledge", "goal", "appointment", "user_sentiment", "agent_sentiment", "call_completion",
		"answered_by_human", "opted_in", "no_opt_out", "call_summary"}
	analysisAggregates = []string{"judge_found_partial_or_error", "judge_found_full_error", "all_feedback"}
)

// Webhook returns the body of the post-call webhook Synthflow sends for
// the call, in the documented shape: status, error_message, lead (name,
// phone_number, prompt_variables), call (status, end_call_reason,
// model_id, timezone, call_id, duration, start_time as ISO 8601 with the
// call's offset, transcript, recording_url), executed_actions, analysis,
// collected_variables, and custom_end_call_reason when the call has one.
func (c Call) Webhook(o WebhookOptions) []byte {
	get := func(name string) any {
		if v, ok := c.Field(name); ok {
			return json.RawMessage(v)
		}
		return nil
	}
	analysis := o.Analysis
	if analysis == nil {
		analysis = c.LiveAnalysis()
	}
	call := obj{{"status", get("status")}, {"end_call_reason", get("end_call_reason")}, {"model_id", c.modelID},
		{"timezone", get("timezone")}, {"call_id", c.id}, {"duration", get("duration")},
		{"start_time", c.isoStart()}, {"transcript", get("transcript")}, {"recording_url", get("recording_url")}}
	if o.AnalysisInCall && !o.NoAnalysis {
		call = append(call, kv{"analysis", analysis})
	}
	lead := obj{{"name", get("name")}, {"phone_number", get("phone_number_to")}, {"prompt_variables", get("prompt_variables")}}
	body := obj{{"status", get("status")}, {"error_message", get("error_message")}, {"lead", lead}, {"call", call},
		{"executed_actions", get("executed_actions")}}
	if !o.AnalysisInCall && !o.NoAnalysis {
		body = append(body, kv{"analysis", analysis})
	}
	body = append(body, kv{"collected_variables", get("collected_variables")})
	if v, ok := c.Field("custom_end_call_reason"); ok && string(v) != "null" {
		body = append(body, kv{"custom_end_call_reason", json.RawMessage(v)})
	}
	return marshal(body)
}

// isoStart is the start time as the webhook sends it: ISO 8601 with the
// offset of the call's time zone (UTC when it is unknown here).
func (c Call) isoStart() any {
	if c.start.IsZero() {
		return nil
	}
	loc := time.UTC
	if v, ok := c.Field("timezone"); ok {
		var tz string
		if json.Unmarshal(v, &tz) == nil {
			if l, err := time.LoadLocation(tz); err == nil {
				loc = l
			}
		}
	}
	return c.start.In(loc).Format("2006-01-02T15:04:05.000000-07:00")
}

// LiveAnalysis returns the analysis object a webhook would carry for the
// call, in the shape seen live: every value a string ("true", "True",
// "partial", "not_applicable", free text), each of the 16 documented
// criteria with its X_feedback sibling (those judge_results lacks are
// "not_applicable" with empty feedback), and the aggregates
// judge_found_partial_or_error, judge_found_full_error and all_feedback:
// 35 keys. It is {} when judge_results is {} (failed calls), and null when
// the call was not judged (judge_results null or absent).
func (c Call) LiveAnalysis() json.RawMessage {
	v, ok := c.Field("judge_results")
	var jr map[string]any
	if !ok || json.Unmarshal(v, &jr) != nil || jr == nil {
		return json.RawMessage("null")
	}
	if len(jr) == 0 {
		return json.RawMessage("{}")
	}
	text := func(k string) string {
		switch x := jr[k].(type) {
		case string:
			return x
		case nil:
			return ""
		default:
			return fmt.Sprint(x)
		}
	}
	var out obj
	var partialOrError, fullError bool
	var feedback []string
	for _, k := range analysisCriteria {
		val, fb := text(k), text(k+"_feedback")
		if _, ok := jr[k]; !ok {
			val = "not_applicable"
		}
		switch strings.ToLower(val) {
		case "false":
			fullError, partialOrError = true, true
		case "partial":
			partialOrError = true
		}
		if fb != "" && !slices.Contains(feedback, fb) {
			feedback = append(feedback, fb)
		}
		out = append(out, kv{k, val}, kv{k + "_feedback", fb})
	}
	out = append(out, kv{analysisAggregates[0], fmt.Sprint(partialOrError)}, kv{analysisAggregates[1], fmt.Sprint(fullError)},
		kv{analysisAggregates[2], strings.Join(feedback, " ")})
	return marshal(out)
}

// PostWebhook sends body to url as Synthflow sends a post-call webhook:
// POST, application/json, signed with secret in the Synthflow-Signature
// header (the base64 of HMAC-SHA256 of callID: the body is not signed). An
// empty secret sends no signature. It returns the answer's status code,
// or the error of the request.
func PostWebhook(ctx context.Context, client *http.Client, url string, secret []byte, callID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if len(secret) > 0 {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(callID))
		req.Header.Set("Synthflow-Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
