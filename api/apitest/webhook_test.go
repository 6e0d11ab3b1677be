package apitest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
)

// judged returns a generated call with judge_results, and one failed call
// (judge_results {}).
func judged(t *testing.T) (withResults, failed apitest.Call) {
	t.Helper()
	var okW, okF bool
	for _, c := range testCalls(200) {
		v, _ := c.Field("judge_results")
		switch {
		case !okW && len(v) > 2 && v[0] == '{':
			withResults, okW = c, true
		case !okF && string(v) == "{}":
			failed, okF = c, true
		}
	}
	if !okW || !okF {
		t.Fatal("the data set has no judged or no failed call")
	}
	return withResults, failed
}

// TestCall_Webhook: the body reads as a post-call webhook, its analysis in
// the live shape (35 keys, string values), at the top level or under call.
func TestCall_Webhook(t *testing.T) {
	c, failed := judged(t)
	for _, inCall := range []bool{false, true} {
		body := c.Webhook(apitest.WebhookOptions{AnalysisInCall: inCall})
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatal(err)
		}
		var call map[string]json.RawMessage
		if err := json.Unmarshal(top["call"], &call); err != nil {
			t.Fatal(err)
		}
		_, atTop := top["analysis"]
		_, underCall := call["analysis"]
		if atTop == inCall || underCall != inCall {
			t.Fatalf("inCall %v: analysis at top %v, under call %v", inCall, atTop, underCall)
		}
		hook, err := api.ParseWebhook(body)
		if err != nil || hook.CallID != c.ID() || hook.Status == nil {
			t.Fatalf("ParseWebhook = %+v, %v", hook, err)
		}
		var a map[string]any
		if err := json.Unmarshal(hook.Analysis, &a); err != nil {
			t.Fatal(err)
		}
		if len(a) != 35 {
			t.Fatalf("analysis has %d keys, want 35: %s", len(a), hook.Analysis)
		}
		for k, v := range a {
			if _, ok := v.(string); !ok {
				t.Fatalf("analysis %s = %v, want a string", k, v)
			}
		}
		if js := api.DecodeJudgements(hook.Analysis); len(js) != 19 { // 16 criteria, 2 aggregates, all
			t.Fatalf("%d judgements decoded, want 19", len(js))
		}
	}
	if got := string(failed.LiveAnalysis()); got != "{}" {
		t.Fatalf("failed call's analysis %s, want {}", got)
	}
	if got := string(c.Without("judge_results").LiveAnalysis()); got != "null" {
		t.Fatalf("unjudged call's analysis %s, want null", got)
	}
	body := c.Webhook(apitest.WebhookOptions{Analysis: json.RawMessage(`{"goal":true}`)})
	if hook, err := api.ParseWebhook(body); err != nil || string(hook.Analysis) != `{"goal":true}` {
		t.Fatalf("given analysis: %+v, %v", hook, err)
	}
	if hook, err := api.ParseWebhook(c.Webhook(apitest.WebhookOptions{NoAnalysis: true})); err != nil || hook.Analysis != nil {
		t.Fatalf("no analysis: %+v, %v", hook, err)
	}
}

// TestPostWebhook: the request is signed as Synthflow signs it, and an
// empty secret sends no signature.
func TestPostWebhook(t *testing.T) {
	c, _ := judged(t)
	secret := []byte("whsec")
	var signedOK, unsigned bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		signedOK = api.VerifyWebhookHeaders(secret, c.ID(), r.Header)
		unsigned = len(api.WebhookSignatures(r.Header)) == 0
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	code, err := apitest.PostWebhook(t.Context(), srv.Client(), srv.URL, secret, c.ID(), c.Webhook(apitest.WebhookOptions{}))
	if err != nil || code != http.StatusAccepted || !signedOK {
		t.Fatalf("signed: %d, %v, verified %v", code, err, signedOK)
	}
	if code, err := apitest.PostWebhook(t.Context(), srv.Client(), srv.URL, nil, c.ID(), nil); err != nil || code != http.StatusAccepted || !unsigned {
		t.Fatalf("unsigned: %d, %v, no signature %v", code, err, unsigned)
	}
	if _, err := apitest.PostWebhook(t.Context(), srv.Client(), "http://127.0.0.1:0/", secret, c.ID(), nil); err == nil {
		t.Fatal("no error for an unreachable URL")
	}
	if _, err := apitest.PostWebhook(t.Context(), srv.Client(), ":bad url", secret, c.ID(), nil); err == nil {
		t.Fatal("no error for a malformed URL")
	}
}
